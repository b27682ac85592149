#include "report/html.h"

#include <openssl/evp.h>

#include "report/json_io.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg::report {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Html::Html(std::string title) : title_(std::move(title)) {}

void Html::heading(const std::string& text) { body_ += "<h2>" + html_escape(text) + "</h2>\n"; }

void Html::paragraph(const std::string& text) { body_ += "<p>" + html_escape(text) + "</p>\n"; }

void Html::warning(const std::string& text) {
  body_ += "<div class=\"warning\">" + html_escape(text) + "</div>\n";
}

void Html::preformatted(const std::string& text) { body_ += "<pre>" + html_escape(text) + "</pre>\n"; }

void Html::table(const Table& table, const std::string& caption, int significant_digits) {
  body_ += "<table>\n";
  if (!caption.empty()) body_ += "<caption>" + html_escape(caption) + "</caption>\n";
  body_ += "<tr>";
  for (const auto& c : table.columns) body_ += "<th>" + html_escape(c) + "</th>";
  body_ += "</tr>\n";
  for (const auto& row : table.rows) {
    body_ += "<tr>";
    for (const auto& cell : row)
      body_ += std::string(is_number(cell) ? "<td class=\"num\">" : "<td>") +
               html_escape(display(cell, significant_digits)) + "</td>";
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
}

void Html::figure(const std::filesystem::path& image, const std::string& caption) {
  std::string ext = image.extension().string();
  std::string mime;
  if (ext == ".svg") mime = "image/svg+xml";
  else if (ext == ".png") mime = "image/png";
  else fail("cannot embed {} in a report: only .svg and .png images are supported", image.string());
  body_ += "<figure><img alt=\"" + html_escape(caption) + "\" src=\"data:" + mime + ";base64," +
           base64(read_file(image)) + "\">";
  if (!caption.empty()) body_ += "<figcaption>" + html_escape(caption) + "</figcaption>";
  body_ += "</figure>\n";
}

void Html::provenance(const nlohmann::json& prov) {
  heading("Provenance");
  preformatted(dump_json(prov));
}

std::string Html::str() const {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
         html_escape(title_) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\n"
         "table{border-collapse:collapse;margin:1em 0}\n"
         "th,td{border:1px solid #ccc;padding:3px 8px}\n"
         "th{background:#f2f2f2}\ntd.num{text-align:right;font-variant-numeric:tabular-nums}\n"
         "caption{font-weight:bold;text-align:left;padding:4px 0}\n"
         ".warning{background:#fff3cd;border:1px solid #e0b000;padding:8px 12px;margin:1em 0;"
         "font-weight:bold}\n"
         "figure{margin:1em 0}\nfigure img{max-width:100%}\n"
         "pre{background:#f7f7f7;padding:8px;overflow-x:auto}\n"
         "</style>\n</head>\n<body>\n<h1>" +
         html_escape(title_) + "</h1>\n" + body_ + "</body>\n</html>\n";
}

void Html::write(const std::filesystem::path& path) const { write_file_atomic(path, str()); }

}  // namespace sg::report
