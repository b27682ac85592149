// Tests of the report writers: CSV round trip through a real parser (Python's
// csv + float, as pandas would read it), JSON nulls for non-finite numbers,
// gnuplot figures (PNG signature, SVG root), self-contained HTML, terminal
// alignment, and atomicity (nothing left behind on an error).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "report/csv.h"
#include "report/figure.h"
#include "report/html.h"
#include "report/json_io.h"
#include "report/terminal.h"
#include "support/test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Table sample_table() {
  Table t({"model", "layers", "gain", "note"});
  t.add_row({cell("pythia-1.4b"), cell(24), cell(0.1 + 0.2), cell("a, \"quoted\" note")});
  t.add_row({cell("pythia-6.9b"), cell(32), cell(kNaN), cell("")});
  t.add_row({cell("x"), Cell{}, cell(-kInf), cell(" padded ")});
  return t;
}

TEST(Csv, FormatsNumbersShortestAndQuotesText) {
  EXPECT_EQ(to_csv(sample_table()),
            "model,layers,gain,note\n"
            "pythia-1.4b,24,0.30000000000000004,\"a, \"\"quoted\"\" note\"\n"
            "pythia-6.9b,32,,\"\"\n"
            "x,,-inf,\" padded \"\n");
}

TEST(Csv, RoundTripsDoublesExactly) {
  auto dir = test::scratch_dir("csv");
  Table t({"x"});
  std::vector<double> values = {0.1 + 0.2, 1e-300, 6.02214076e23, -3.604, 1.0 / 3.0};
  for (double v : values) t.add_row({cell(v)});
  write_csv(dir / "t.csv", t);
  // Parse it back independently of our writer: strtod of each field.
  std::string text = read_file(dir / "t.csv");
  size_t pos = text.find('\n') + 1;
  for (double v : values) {
    size_t end = text.find('\n', pos);
    double back = std::strtod(text.substr(pos, end - pos).c_str(), nullptr);
    EXPECT_EQ(back, v);
    pos = end + 1;
  }
}

// pandas.read_csv follows the same RFC 4180 dialect as Python's csv module
// (pandas itself is not a Debian dependency of the project).
TEST(Csv, PythonReadsItBack) {
  if (std::system("/usr/bin/python3 -c pass >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  auto dir = test::scratch_dir("csv_python");
  write_csv(dir / "t.csv", sample_table());
  auto r =
      test::run_command("/usr/bin/python3 -c \"import csv; rows = list(csv.reader(open('" + (dir / "t.csv").string() +
                        "'))); print(repr(float(rows[1][2])), repr(rows[1][3]), repr(rows[2][2]), "
                        "repr(rows[3][3]), float(rows[3][2]))\"");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "0.30000000000000004 'a, \"quoted\" note' '' ' padded ' -inf\n");
}

TEST(Table, RejectsARowOfTheWrongWidth) {
  Table t({"a", "b"});
  EXPECT_THROW(t.add_row({cell(1)}), Error);
}

TEST(Json, NonFiniteNumbersBecomeNull) {
  nlohmann::json j = {{"nan", kNaN}, {"inf", kInf}, {"x", 0.1 + 0.2}, {"b", {1, 2}}};
  EXPECT_EQ(dump_json(j),
            "{\n  \"b\": [\n    1,\n    2\n  ],\n  \"inf\": null,\n  \"nan\": null,\n"
            "  \"x\": 0.30000000000000004\n}\n");
}

TEST(Json, CompactLayoutKeepsNumberArraysOnOneLine) {
  std::vector<int> ids(120);
  for (int i = 0; i < 120; ++i) ids[i] = 1000 + i;
  nlohmann::json j = {{"prompts", {{{"ids", ids}, {"text", "Once upon a time"}}, {{"ids", {1, 2}}, {"text", "x"}}}},
                      {"short", {{"a", 1}, {"b", {1.5, nullptr}}}},
                      {"empty", nlohmann::json::object()},
                      {"nan", kNaN},
                      {"quote", "a \"b\"\n"}};
  std::string id_line;
  for (int id : ids) id_line += (id_line.empty() ? "[" : ", ") + std::to_string(id);
  id_line += "]";
  std::string s = dump_json_compact(j);
  EXPECT_EQ(s,
            "{\n"
            "  \"empty\": {},\n"
            "  \"nan\": null,\n"
            "  \"prompts\": [\n"
            "    {\n"
            "      \"ids\": " +
                id_line +
                ",\n"
                "      \"text\": \"Once upon a time\"\n"
                "    },\n"
                "    {\"ids\": [1, 2], \"text\": \"x\"}\n"
                "  ],\n"
                "  \"quote\": \"a \\\"b\\\"\\n\",\n"
                "  \"short\": {\"a\": 1, \"b\": [1.5, null]}\n"
                "}");
  // The 120 ids on one line, with ", " between them.
  EXPECT_NE(s.find("[1000, 1001, 1002"), std::string::npos);
  EXPECT_NE(s.find("1118, 1119]"), std::string::npos);
  // Same value when parsed back (NaN was already null in dump_json).
  EXPECT_EQ(nlohmann::json::parse(s), nlohmann::json::parse(dump_json(j)));
  EXPECT_EQ(dump_json_compact(42), "42");
  EXPECT_EQ(dump_json_compact(nlohmann::json::array()), "[]");
}

TEST(Json, ParseErrorNamesTheFile) {
  auto dir = test::scratch_dir("json");
  write_file_atomic(dir / "bad.json", "{\"a\": 1,\n  oops}");
  try {
    read_json(dir / "bad.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.json: not valid JSON"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  write_json(dir / "ok.json", {{"a", 1}});
  EXPECT_EQ(read_json(dir / "ok.json")["a"], 1);
}

TEST(Json, Sha256OfAFile) {
  auto dir = test::scratch_dir("sha");
  write_file_atomic(dir / "abc", "abc");
  EXPECT_EQ(sha256_file(dir / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_THROW(sha256_file(dir / "missing"), Error);
}

TEST(Json, ProvenanceBlock) {
  ::setenv("SOURCE_DATE_EPOCH", "86400", 1);
  auto p = provenance({{"inputs", {"a.json"}}, {"tool", "overridden"}});
  ::unsetenv("SOURCE_DATE_EPOCH");
  EXPECT_EQ(p["created_utc"], "1970-01-02T00:00:00Z");
  EXPECT_EQ(p["tool"], "overridden");
  EXPECT_EQ(p["inputs"][0], "a.json");
  EXPECT_FALSE(p["version"].get<std::string>().empty());
  EXPECT_NE(p["command_line"].get<std::string>().find("test_report"), std::string::npos);
  EXPECT_THROW(provenance(nlohmann::json::array()), Error);
}

TEST(Terminal, AlignsNumbersRightAndTextLeft) {
  Table t({"metric", "a", "b"});
  t.add_row({cell("layers"), cell(24), cell(32)});
  t.add_row({cell("MLP min gain"), cell(0.26123), cell(kNaN)});
  std::string s = format_text_table(t, 3);
  EXPECT_EQ(s,
            "metric            a   b\n"
            "-----------------------\n"
            "layers           24  32\n"
            "MLP min gain  0.261   -\n");
}

Figure sample_figure() {
  Figure f;
  f.title = "It's a test: gain_1";
  f.columns = 2;
  Panel a;
  a.title = "lines";
  a.x_label = "l/(L-1)";
  a.y_label = "gain";
  a.log_y = true;
  a.lines.push_back({"model A", {0, 0.5, 1}, {0.5, 0.25, 3.6}, LineStyle::LinesPoints});
  a.lines.push_back({"model B", {0, 0.5, 1}, {1.0, kNaN, -1.0}, LineStyle::Dashed});
  a.hlines.push_back({1.0, "gain = 1"});
  Panel b;
  b.title = "bars";
  b.bars.push_back({"combined", {0, 1, 2}, {0.5, 1.2, 0.9}});
  b.bars.push_back({"other", {0, 1, 2}, {0.4, 1.1, 1.3}});
  Panel empty;
  empty.title = "nothing to draw";
  empty.lines.push_back({"all NaN", {0}, {kNaN}, LineStyle::Points});
  f.panels = {a, b, empty};
  return f;
}

TEST(Figure, RendersPngAndSvg) {
  auto dir = test::scratch_dir("fig");
  Figure f = sample_figure();
  f.render(dir / "f.png", dir / "f.svg");
  std::string png = read_file(dir / "f.png");
  ASSERT_GE(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::string svg = read_file(dir / "f.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("model A"), std::string::npos);
  // Deterministic: drawing again gives the same bytes.
  f.render(dir / "g.png", dir / "g.svg");
  EXPECT_EQ(read_file(dir / "g.png"), png);
  EXPECT_EQ(read_file(dir / "g.svg"), svg);
}

TEST(Figure, ScriptLeavesOutUndrawablePoints) {
  std::string s = sample_figure().script("set terminal dumb");
  EXPECT_NE(s.find("'It''s a test: gain_1'"), std::string::npos);
  EXPECT_EQ(s.find("nan"), std::string::npos);  // NaN and the negative log-y point are dropped
  EXPECT_EQ(s.find("-1\n"), std::string::npos);
  EXPECT_NE(s.find("no data"), std::string::npos);
}

// The lines of `script` that start with `prefix`, in order.
std::vector<std::string> lines_starting(const std::string& script, const std::string& prefix) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < script.size()) {
    size_t end = script.find('\n', pos);
    if (end == std::string::npos) end = script.size();
    if (script.compare(pos, prefix.size(), prefix) == 0) out.push_back(script.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

Panel layer_panel(int n_layers, bool bars) {
  Panel p;
  p.title = "per layer";
  std::vector<double> x, y;
  for (int l = 0; l < n_layers; ++l) x.push_back(l), y.push_back(0.5 + 0.1 * l);
  if (bars)
    p.bars.push_back({"gain", x, y});
  else
    p.lines.push_back({"gain", x, y, LineStyle::LinesPoints});
  p.hlines.push_back({1.0, "gain = 1"});
  return p;
}

TEST(Figure, IntegerXValuesGetIntegerTicksOnly) {
  Figure f;
  f.panels = {layer_panel(5, false), layer_panel(5, true), layer_panel(32, false), layer_panel(1, true)};
  std::string s = f.script("set terminal dumb");
  auto xtics = lines_starting(s, "set xtics");
  auto xrange = lines_starting(s, "set xrange");
  ASSERT_EQ(xtics.size(), 4u) << s;
  ASSERT_EQ(xrange.size(), 4u) << s;
  // Five layers: a label at every layer, starting at 0 (not -0.5), the range
  // padded a little either side (bars: half a slot).
  EXPECT_EQ(xtics[0], "set xtics 0, 1");
  EXPECT_EQ(xrange[0], "set xrange [-0.2:4.2]");
  EXPECT_EQ(xtics[1], "set xtics 0, 1");
  EXPECT_EQ(xrange[1], "set xrange [-0.5:4.5]");
  // 32 layers: every 5th.
  EXPECT_EQ(xtics[2], "set xtics 0, 5");
  // One bar: still no fractional tick.
  EXPECT_EQ(xtics[3], "set xtics 0, 1");
  EXPECT_EQ(xrange[3], "set xrange [-0.5:0.5]");

  // States between layers (x = l, l + 1/2) keep integer labels too.
  Panel halves;
  halves.lines.push_back({"z", {0, 0.5, 1, 1.5, 2, 2.5, 3}, {1, 2, 3, 4, 5, 6, 7}, LineStyle::LinesPoints});
  // Fractional x (normalised depth) stays with gnuplot's own ticks.
  Panel depth;
  depth.lines.push_back({"d", {0, 0.25, 0.5, 0.75, 1}, {1, 2, 3, 4, 5}, LineStyle::LinesPoints});
  // An explicit range is kept.
  Panel fixed = layer_panel(5, false);
  fixed.x_min = -1;
  fixed.x_max = 10;
  f.panels = {halves, depth, fixed};
  s = f.script("set terminal dumb");
  xtics = lines_starting(s, "set xtics");
  xrange = lines_starting(s, "set xrange");
  ASSERT_EQ(xtics.size(), 2u) << s;
  EXPECT_EQ(xtics[0], "set xtics 0, 1");
  EXPECT_EQ(xrange[1], "set xrange [*:*]");
  EXPECT_EQ(xtics[1], "set xtics 0, 2");
  EXPECT_EQ(xrange[2], "set xrange [-1:10]");
}

TEST(Figure, LogAxisLabelsDecadesReadably) {
  Figure f;
  Panel wide;
  wide.log_y = true;
  wide.lines.push_back({"cumulative", {0, 1, 2, 3, 4}, {0.05, 2.5e-3, 1.5e-4, 2e-5, 4e-6}, LineStyle::Lines});
  wide.hlines.push_back({1.0, ""});
  Panel narrow;
  narrow.log_y = true;
  narrow.lines.push_back({"gain", {0, 1, 2}, {0.3, 2.0, 8.0}, LineStyle::Lines});
  f.panels = {wide, narrow};
  std::string s = f.script("set terminal dumb");
  auto ytics = lines_starting(s, "set ytics");
  auto yrange = lines_starting(s, "set yrange");
  ASSERT_EQ(ytics.size(), 2u) << s;
  EXPECT_EQ(yrange[0], "set yrange [1e-6:1e0]");
  EXPECT_EQ(ytics[0],
            "set ytics ('1e-6' 1e-6, '1e-5' 1e-5, '1e-4' 1e-4, '1e-3' 1e-3, '1e-2' 1e-2, '1e-1' 1e-1, '1' 1e0)");
  EXPECT_EQ(yrange[1], "set yrange [1e-1:1e1]");
  EXPECT_EQ(ytics[1], "set ytics ('0.1' 1e-1, '0.2' 2e-1, '0.5' 5e-1, '1' 1e0, '2' 2e0, '5' 5e0, '10' 1e1)");
  // No fixed-point tick format anywhere.
  EXPECT_EQ(s.find("set format"), std::string::npos);
  EXPECT_EQ(s.find("0.0000"), std::string::npos);
}

TEST(Figure, LegendsSitBelowThePanelsAndGridWrapsAtTwoColumns) {
  Figure f;
  f.columns = 3;
  Panel unlabelled;
  unlabelled.lines.push_back({"", {0, 1}, {1, 2}, LineStyle::Lines});
  f.panels = {layer_panel(5, false), layer_panel(5, true), unlabelled};
  std::string s = f.script("set terminal dumb");
  EXPECT_EQ(f.grid_columns(), 2);
  EXPECT_EQ(f.grid_rows(), 2);
  EXPECT_NE(s.find("set multiplot layout 2,2 rowsfirst"), std::string::npos) << s;
  auto keys = lines_starting(s, "set key");
  ASSERT_EQ(keys.size(), 2u);
  for (const auto& k : keys) EXPECT_NE(k.find("set key bmargin center horizontal"), std::string::npos) << k;
  EXPECT_EQ(lines_starting(s, "unset key").size(), 1u);  // nothing to list
  f.max_columns = 3;
  EXPECT_EQ(f.grid_columns(), 3);
  EXPECT_NE(f.script("").find("set multiplot layout 1,3 rowsfirst"), std::string::npos);
}

TEST(Figure, SameFigureSameScript) {
  Figure f = sample_figure();
  f.panels.push_back(layer_panel(12, true));
  Figure copy = f;
  EXPECT_EQ(f.script("set terminal dumb"), copy.script("set terminal dumb"));
  EXPECT_EQ(f.script("set terminal dumb"), f.script("set terminal dumb"));
}

TEST(Figure, InconsistentSeriesIsAnError) {
  Figure f;
  Panel p;
  p.lines.push_back({"bad", {0, 1}, {1}, LineStyle::Lines});
  f.panels = {p};
  EXPECT_THROW(f.script(""), Error);
  EXPECT_THROW(Figure{}.script(""), Error);  // no panels
}

TEST(Figure, MissingGnuplotIsAClearErrorAndWritesNothing) {
  auto dir = test::scratch_dir("fig_missing");
  ::setenv("STREAMGAUGE_GNUPLOT", "/nonexistent/gnuplot", 1);
  try {
    sample_figure().render(dir / "f.png", dir / "f.svg");
    ::unsetenv("STREAMGAUGE_GNUPLOT");
    FAIL() << "no error";
  } catch (const Error& e) {
    ::unsetenv("STREAMGAUGE_GNUPLOT");
    EXPECT_NE(std::string(e.what()).find("gnuplot"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(Figure, GnuplotFailureReportsItsMessageAndWritesNothing) {
  auto dir = test::scratch_dir("fig_fail");
  Figure f = sample_figure();
  f.panels[0].x_min = 1;  // an empty x range makes gnuplot fail
  f.panels[0].x_max = 1;
  try {
    f.render(dir / "f.png", dir / "f.svg");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gnuplot failed"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(Html, SelfContainedWithEmbeddedFigures) {
  auto dir = test::scratch_dir("html");
  sample_figure().render(dir / "f.png", dir / "f.svg");
  Html page("A <test> report");
  page.warning("random weights: numbers mean nothing");
  page.paragraph("x < y & z");
  page.table(sample_table(), "Table 1");
  page.figure(dir / "f.svg", "svg figure");
  page.figure(dir / "f.png", "png figure");
  page.provenance({{"inputs", {"a.json"}}});
  page.write(dir / "report.html");
  std::string html = read_file(dir / "report.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>A &lt;test&gt; report</title>"), std::string::npos);
  EXPECT_NE(html.find("class=\"warning\">random weights"), std::string::npos);
  EXPECT_NE(html.find("x &lt; y &amp; z"), std::string::npos);
  EXPECT_NE(html.find("data:image/svg+xml;base64,"), std::string::npos);
  EXPECT_NE(html.find("data:image/png;base64,iVBORw0KGgo"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">0.3</td>"), std::string::npos);
  EXPECT_NE(html.find("Provenance"), std::string::npos);
  // No external resources of any kind.
  EXPECT_EQ(html.find("http"), std::string::npos);
  EXPECT_EQ(html.find("src=\"/"), std::string::npos);
  EXPECT_THROW(page.figure(dir / "report.html"), Error);
}

// A small well-formedness check of the report's HTML: every element but the
// void ones (meta, img, br, ...) is closed in order, attribute values are
// quoted, the document is one <html> element. Records, for every element,
// the chain of its ancestors (e.g. "html/body/div.table-scroll/table").
struct HtmlCheck {
  std::string error;                                          // empty = well-formed
  std::vector<std::pair<std::string, std::string>> elements;  // (tag, ancestors)
  std::vector<std::string> urls;                              // every src= and href= value
};

HtmlCheck check_html(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta", "img", "br", "hr", "link", "input", "source", "wbr"};
  HtmlCheck out;
  std::vector<std::string> stack;  // "tag" or "tag.class"
  auto path = [&] {
    std::string p;
    for (const auto& s : stack) p += (p.empty() ? "" : "/") + s;
    return p;
  };
  size_t pos = 0;
  while ((pos = html.find('<', pos)) != std::string::npos) {
    if (html.compare(pos, 9, "<!DOCTYPE") == 0) {
      pos = html.find('>', pos);
      continue;
    }
    size_t end = html.find('>', pos);
    if (end == std::string::npos) return out.error = "unterminated tag at " + std::to_string(pos), out;
    std::string tag = html.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (!tag.empty() && tag[0] == '/') {
      std::string name = tag.substr(1);
      if (stack.empty() || stack.back().substr(0, stack.back().find('.')) != name)
        return out.error = "</" + name + "> closes <" + (stack.empty() ? "nothing" : stack.back()) + "> at " +
                           std::to_string(pos),
               out;
      stack.pop_back();
      continue;
    }
    // name, then name="value" attributes (values without < or >); no regex:
    // a value can be a megabyte of base64.
    size_t i = 0;
    auto lower = [&](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'; };
    while (i < tag.size() && lower(tag[i])) ++i;
    std::string name = tag.substr(0, i), cls;
    if (name.empty() || !(name[0] >= 'a' && name[0] <= 'z'))
      return out.error = "malformed tag <" + tag.substr(0, 80) + ">", out;
    while (i < tag.size()) {
      if (tag[i] != ' ') return out.error = "malformed tag <" + tag.substr(0, 80) + ">", out;
      while (i < tag.size() && tag[i] == ' ') ++i;
      size_t a = i;
      while (i < tag.size() && lower(tag[i])) ++i;
      std::string attr = tag.substr(a, i - a);
      if (attr.empty() || tag.compare(i, 2, "=\"") != 0)
        return out.error = "malformed attribute in <" + tag.substr(0, 80) + ">", out;
      size_t close = tag.find('"', i + 2);
      if (close == std::string::npos) return out.error = "unquoted attribute in <" + tag.substr(0, 80) + ">", out;
      std::string value = tag.substr(i + 2, close - i - 2);
      if (value.find('<') != std::string::npos) return out.error = "< in an attribute of <" + name + ">", out;
      if (attr == "class") cls = value;
      if (attr == "src" || attr == "href") out.urls.push_back(value);
      i = close + 1;
    }
    out.elements.emplace_back(name, path());
    if (kVoid.count(name)) continue;
    stack.push_back(cls.empty() ? name : name + "." + cls);
    if (name == "style" || name == "script") {  // raw text up to the closing tag
      size_t close = html.find("</" + name + ">", pos);
      if (close == std::string::npos) return out.error = "unclosed <" + name + ">", out;
      pos = close;
    }
  }
  if (!stack.empty())
    out.error = "unclosed <" + stack.back() + ">";
  else if (out.elements.empty() || out.elements[0].first != "html")
    out.error = "no <html> root";
  return out;
}

TEST(Html, TheCheckerCatchesBrokenMarkup) {
  EXPECT_EQ(check_html("<!DOCTYPE html>\n<html><body><p>a<br>b</p><img src=\"data:x\"></body></html>").error, "");
  EXPECT_NE(check_html("<html><body><p>a</body></html>").error, "");
  EXPECT_NE(check_html("<html><body><p>a</p>").error, "");
  EXPECT_NE(check_html("<html><p class=x>a</p></html>").error, "");
  EXPECT_NE(check_html("<html><p>a < b</p></html>").error, "");
  EXPECT_NE(check_html("<html><p title=\"a<b\">a</p></html>").error, "");
}

// A report laid out for one screen width: well-formed, every figure embedded,
// wide tables in their own scroll box, provenance folded and compact.
TEST(Html, ReportReadsOnOneScreenWidth) {
  auto dir = test::scratch_dir("html_layout");
  Figure fig = sample_figure();
  fig.render(dir / "f.png", dir / "f.svg");
  Table wide;
  for (int c = 0; c < 38; ++c) wide.columns.push_back(fmt::format("metric_number_{}", c));
  for (int r = 0; r < 5; ++r) {
    std::vector<Cell> row;
    for (int c = 0; c < 38; ++c) row.push_back(cell(r * 0.123456789 + c));
    wide.add_row(row);
  }
  std::vector<int> ids(300, 412);
  nlohmann::json prov = provenance(
      {{"prompts", {{{"ids", ids}, {"text", "The capital of France"}}, {{"ids", ids}, {"text", "Machine learning"}}}}});
  Html page("layout");
  page.heading("Per layer");
  page.table(sample_table(), "small");
  page.table(wide, "all metrics");
  page.figure(dir / "f.svg", "svg figure");
  page.figure(dir / "f.png", "png figure");
  page.preformatted("a <pre> block");
  page.provenance(prov);
  std::string html = page.str();

  HtmlCheck c = check_html(html);
  ASSERT_EQ(c.error, "");
  // xmllint (Debian libxml2-utils), when present, agrees that it parses. Its
  // HTML parser is HTML 4: it calls the HTML5 elements we use unknown.
  if (std::system("command -v xmllint >/dev/null 2>&1") == 0) {
    write_file_atomic(dir / "report.html", html);
    auto r = test::run_command("xmllint --html --noout " + (dir / "report.html").string() + " 2>&1");
    EXPECT_EQ(r.status, 0) << r.output;
    size_t pos = 0, errors = 0;
    while ((pos = r.output.find("parser error : ", pos)) != std::string::npos) {
      pos += 15;
      bool html5 = false;
      for (const char* tag : {"figure", "figcaption", "details", "summary"})
        html5 = html5 || r.output.compare(pos, 4 + std::strlen(tag) + 8, std::string("Tag ") + tag + " invalid") == 0;
      errors += !html5;
    }
    EXPECT_EQ(errors, 0u) << r.output;
  }

  // Every image is embedded: two img elements, every src a data: URI, no href.
  int images = 0;
  for (const auto& [tag, parents] : c.elements) images += tag == "img";
  EXPECT_EQ(images, 2);
  ASSERT_EQ(c.urls.size(), 2u);
  for (const auto& u : c.urls) EXPECT_EQ(u.rfind("data:image/", 0), 0u) << u.substr(0, 40);
  // Shown at natural width (the PNG's 1280 px), at least 80% of it.
  EXPECT_NE(html.find("style=\"width:1280px;min-width:1024px\""), std::string::npos);

  // Every table and every figure sits in its own scroll box.
  int tables = 0;
  for (const auto& [tag, parents] : c.elements) {
    if (tag == "table") {
      ++tables;
      EXPECT_EQ(parents, "html/body/div.table-scroll");
    }
    if (tag == "img") {
      EXPECT_EQ(parents, "html/body/figure/div.figure-scroll");
    }
  }
  EXPECT_EQ(tables, 2);
  EXPECT_NE(html.find(".table-scroll{overflow:auto"), std::string::npos);
  EXPECT_NE(html.find("position:sticky"), std::string::npos);

  // Provenance: folded in <details>, token ids on one line per prompt.
  size_t details = html.find("<details");
  ASSERT_NE(details, std::string::npos);
  size_t json_at = html.find("<pre class=\"json\">", details);
  size_t details_end = html.find("</details>", details);
  ASSERT_NE(json_at, std::string::npos);
  EXPECT_LT(json_at, details_end);
  EXPECT_NE(html.find("<summary>"), std::string::npos);
  std::string json_text = html.substr(json_at, details_end - json_at);
  EXPECT_LT(std::count(json_text.begin(), json_text.end(), '\n'), 20) << json_text;
  std::string id_line = "[412";
  for (int i = 1; i < 300; ++i) id_line += ", 412";
  EXPECT_NE(json_text.find("&quot;ids&quot;: " + id_line + "],"), std::string::npos);
}

TEST(Html, Base64) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace sg::report
