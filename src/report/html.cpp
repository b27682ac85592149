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
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Html::Html(std::string title) : title_(std::move(title)) {}

void Html::heading(const std::string& text) { body_ += "<h2>" + html_escape(text) + "</h2>\n"; }

void Html::paragraph(const std::string& text) { body_ += "<p>" + html_escape(text) + "</p>\n"; }

void Html::warning(const std::string& text) { body_ += "<div class=\"warning\">" + html_escape(text) + "</div>\n"; }

void Html::preformatted(const std::string& text) { body_ += "<pre>" + html_escape(text) + "</pre>\n"; }

void Html::table(const Table& table, const std::string& caption, int significant_digits) {
  // The table scrolls inside its own box (header row and first column stay
  // in view), so a wide one never makes the page scroll sideways.
  if (!caption.empty()) body_ += "<div class=\"caption\">" + html_escape(caption) + "</div>\n";
  body_ += "<div class=\"table-scroll\">\n<table>\n<thead><tr>";
  for (const auto& c : table.columns) body_ += "<th>" + html_escape(c) + "</th>";
  body_ += "</tr></thead>\n<tbody>\n";
  for (const auto& row : table.rows) {
    body_ += "<tr>";
    for (const auto& cell : row)
      body_ += std::string(is_number(cell) ? "<td class=\"num\">" : "<td>") +
               html_escape(display(cell, significant_digits)) + "</td>";
    body_ += "</tr>\n";
  }
  body_ += "</tbody>\n</table>\n</div>\n";
}

namespace {

// The width in pixels an image declares: a PNG's IHDR, an SVG root's width
// attribute (gnuplot writes width="1280"); 0 if unknown.
int natural_width(const std::string& bytes, bool svg) {
  if (!svg) {
    if (bytes.size() < 24 || bytes.compare(12, 4, "IHDR") != 0) return 0;
    auto b = [&](size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[i])); };
    unsigned w = b(16) << 24 | b(17) << 16 | b(18) << 8 | b(19);
    return w > 0 && w < 100000 ? static_cast<int>(w) : 0;
  }
  size_t root = bytes.find("<svg");
  if (root == std::string::npos) return 0;
  size_t end = bytes.find('>', root);
  size_t at = bytes.find(" width=\"", root);
  if (at == std::string::npos || at > end) return 0;
  at += 8;
  int w = 0;
  while (at < bytes.size() && bytes[at] >= '0' && bytes[at] <= '9' && w < 100000) w = 10 * w + (bytes[at++] - '0');
  // Only plain pixel widths ("1280" or "1280px"), not "100%" or "20cm".
  if (at < bytes.size() && bytes[at] != '"' && bytes.compare(at, 3, "px\"") != 0) return 0;
  return w;
}

}  // namespace

void Html::figure(const std::filesystem::path& image, const std::string& caption) {
  std::string ext = image.extension().string();
  std::string mime;
  if (ext == ".svg")
    mime = "image/svg+xml";
  else if (ext == ".png")
    mime = "image/png";
  else
    fail("cannot embed {} in a report: only .svg and .png images are supported", image.string());
  std::string bytes = read_file(image);
  // At its natural width up to the page width; below 80% of it the text
  // would be too small, so the figure then scrolls in its own box instead.
  std::string style;
  if (int w = natural_width(bytes, ext == ".svg"); w > 0)
    style = " style=\"width:" + std::to_string(w) + "px;min-width:" + std::to_string(w * 4 / 5) + "px\"";
  body_ += "<figure><div class=\"figure-scroll\"><img alt=\"" + html_escape(caption) + "\"" + style +
           " src=\"data:" + mime + ";base64," + base64(bytes) + "\"></div>";
  if (!caption.empty()) body_ += "<figcaption>" + html_escape(caption) + "</figcaption>";
  body_ += "</figure>\n";
}

void Html::provenance(const nlohmann::json& prov) {
  heading("Provenance");
  // Folded: it is for reproducing the run, not for reading the results.
  body_ +=
      "<details class=\"provenance\"><summary>Command line, inputs, versions and settings (JSON)</summary>\n"
      "<pre class=\"json\">" +
      html_escape(dump_json_compact(prov)) + "</pre>\n</details>\n";
}

std::string Html::str() const {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(title_) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;max-width:1240px;margin:2em auto;padding:0 1em;color:#222;"
         "overflow-wrap:break-word}\n"
         ".table-scroll{overflow:auto;max-width:100%;max-height:80vh;margin:0 0 1em 0;"
         "border:1px solid #ccc;width:fit-content}\n"
         "table{border-collapse:separate;border-spacing:0}\n"
         "th,td{border-right:1px solid #ccc;border-bottom:1px solid #ccc;padding:3px 8px;white-space:nowrap}\n"
         "th{background:#f2f2f2;position:sticky;top:0;z-index:1}\n"
         "td:first-child{position:sticky;left:0;background:#fff}\n"
         "th:first-child{left:0;z-index:2}\n"
         "tr>:last-child{border-right:0}\ntbody tr:last-child>td{border-bottom:0}\n"
         "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
         ".caption{font-weight:bold;margin:1em 0 4px 0}\n"
         ".warning{background:#fff3cd;border:1px solid #e0b000;padding:8px 12px;margin:1em 0;"
         "font-weight:bold}\n"
         "figure{margin:1em 0}\n.figure-scroll{overflow-x:auto;max-width:100%}\n"
         "figure img{display:block;max-width:100%;height:auto}\n"
         "pre{background:#f7f7f7;padding:8px;overflow-x:auto}\n"
         "pre.json{white-space:pre-wrap;overflow-wrap:anywhere}\n"
         "details.provenance summary{cursor:pointer;color:#555}\n"
         "</style>\n</head>\n<body>\n<h1>" +
         html_escape(title_) + "</h1>\n" + body_ + "</body>\n</html>\n";
}

void Html::write(const std::filesystem::path& path) const { write_file_atomic(path, str()); }

}  // namespace sg::report
