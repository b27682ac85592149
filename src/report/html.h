#pragma once
// A self-contained report.html: one file, no external resources (styles are
// inline, figures are embedded as base64 data URIs, so ids inside several
// gnuplot SVGs cannot collide). Text is HTML-escaped; blocks appear in the
// order they are added.
//
//   Html page("compare: pythia-1.4b vs pythia-6.9b");
//   page.warning("random weights: numbers mean nothing");
//   page.table(table, "Cross-model comparison");
//   page.figure("overlay_mlp.svg", "MLP gain against normalised depth");
//   page.provenance(prov);
//   page.write(out / "report.html");
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "report/table.h"

namespace sg::report {

class Html {
 public:
  explicit Html(std::string title);

  void heading(const std::string& text);    // a section heading (h2)
  void paragraph(const std::string& text);  // a paragraph of plain text
  void warning(const std::string& text);    // a highlighted banner
  void preformatted(const std::string& text);
  void table(const Table& table, const std::string& caption = {}, int significant_digits = 6);
  // Embeds an image file (.svg or .png, chosen by extension); throws
  // sg::Error if it cannot be read or has another extension.
  void figure(const std::filesystem::path& image, const std::string& caption = {});
  // The provenance block, shown as indented JSON.
  void provenance(const nlohmann::json& prov);

  std::string str() const;
  void write(const std::filesystem::path& path) const;  // atomically

 private:
  std::string title_;
  std::string body_;
};

// HTML-escapes & < > " '.
std::string html_escape(const std::string& text);

// Standard base64 (RFC 4648, with padding).
std::string base64(const std::string& bytes);

}  // namespace sg::report
