#include "report/figure.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "util/atomic_file.h"
#include "util/error.h"

extern char** environ;

namespace sg::report {
namespace {

// A fixed palette (Tableau 10) so colours do not depend on gnuplot's defaults.
constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

// A gnuplot single-quoted string: no escapes are interpreted inside, a quote
// is written twice. Line breaks would end the command, so they become spaces.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "''";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out + "'";
}

bool drawable(double x, double y, bool log_y) { return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0); }

void check_sizes(const std::string& what, const std::string& label, size_t nx, size_t ny) {
  if (nx != ny) fail("figure {} '{}' has {} x values but {} y values", what, label, nx, ny);
}

// Name of the inline data block of series `s` of panel `p` (lines first, then bars).
std::string block_name(size_t p, size_t s) { return fmt::format("$p{}s{}", p, s); }

// Width of one bar: 80% of the smallest gap between bar positions, shared by
// the panel's bar series (drawn side by side).
double bar_width(const Panel& panel) {
  std::vector<double> xs;
  for (const auto& b : panel.bars)
    for (double x : b.x)
      if (std::isfinite(x)) xs.push_back(x);
  std::sort(xs.begin(), xs.end());
  double spacing = 0;
  for (size_t i = 1; i < xs.size(); ++i) {
    double gap = xs[i] - xs[i - 1];
    if (gap > 0 && (spacing == 0 || gap < spacing)) spacing = gap;
  }
  if (spacing == 0) spacing = 1.0;
  return 0.8 * spacing / static_cast<double>(std::max<size_t>(1, panel.bars.size()));
}

// Every point of the panel's series that will be drawn (bars at their slot
// centres, before any side-by-side shift).
std::vector<std::pair<double, double>> drawn_points(const Panel& panel) {
  std::vector<std::pair<double, double>> pts;
  for (const auto& ls : panel.lines)
    for (size_t i = 0; i < std::min(ls.x.size(), ls.y.size()); ++i)
      if (drawable(ls.x[i], ls.y[i], panel.log_y)) pts.emplace_back(ls.x[i], ls.y[i]);
  for (const auto& bs : panel.bars)
    for (size_t i = 0; i < std::min(bs.x.size(), bs.y.size()); ++i)
      if (drawable(bs.x[i], bs.y[i], panel.log_y)) pts.emplace_back(bs.x[i], bs.y[i]);
  return pts;
}

bool is_integer(double v) { return std::fabs(v) < 1e15 && v == std::floor(v); }

// Labels every `step` (1, 2, 5, 10, 20, 50, ...) with at most 10 intervals.
double integer_step(double span) {
  for (double decade = 1;; decade *= 10)
    for (double m : {1.0, 2.0, 5.0})
      if (span / (m * decade) <= 10.0 || decade > 1e15) return m * decade;
}

// The x axis of a panel whose x values are all integers (layers), or all
// multiples of 1/2 spanning at least 2 (states between layers): an explicit
// range padded on both sides and ticks at integers only, so no "-0.5" or
// "2.5" label appears. Empty for any other panel (gnuplot's autoscale then).
std::string integer_x_axis(const Panel& panel) {
  auto pts = drawn_points(panel);
  if (pts.empty()) return {};
  double lo = pts[0].first, hi = lo;
  bool integers = true, halves = true;
  for (auto [x, y] : pts) {
    lo = std::min(lo, x), hi = std::max(hi, x);
    integers = integers && is_integer(x);
    halves = halves && is_integer(2 * x);
  }
  if (!integers && !(halves && hi - lo >= 2)) return {};
  // Bars fill 80% of their slot: pad by half a slot. Lines: a little air.
  double pad = 0;
  if (!panel.bars.empty())
    pad = 0.5 * bar_width(panel) * panel.bars.size() / 0.8;
  else
    pad = hi > lo ? std::max(0.03 * (hi - lo), 0.2) : 0.5;
  double x_lo = panel.x_min.value_or(lo - pad), x_hi = panel.x_max.value_or(hi + pad);
  if (!(x_lo < x_hi)) return {};  // a degenerate explicit range: gnuplot reports it
  double step = integer_step(x_hi - x_lo);
  double start = std::ceil(x_lo / step) * step + 0.0;  // never "-0"
  return fmt::format("set xrange [{}:{}]\nset xtics {}, {}\n", x_lo, x_hi, start, step);
}

// Tick label of m * 10^e: plain decimals ("0.01", "1000") or "1e-5" style.
std::string decade_label(int m, int e, bool plain) {
  if (e == 0) return std::to_string(m);
  if (!plain) return fmt::format("{}e{}", m, e);
  if (e > 0) return std::to_string(m) + std::string(static_cast<size_t>(e), '0');
  return "0." + std::string(static_cast<size_t>(-e - 1), '0') + std::to_string(m);
}

// The y axis of a log panel: whole decades (as gnuplot's autoscale would
// give), labelled readably instead of with a fixed-point format such as
// "0.0000100"; within at most two decades also 2x and 5x. Only the range
// ends the panel does not set are chosen here.
std::string log_y_axis(const Panel& panel) {
  std::vector<double> ys;
  for (auto [x, y] : drawn_points(panel)) ys.push_back(y);
  for (const auto& h : panel.hlines)
    if (drawable(0.0, h.y, true)) ys.push_back(h.y);
  for (const auto& v : {panel.y_min, panel.y_max})
    if (v && std::isfinite(*v) && *v > 0) ys.push_back(*v);
  if (ys.empty()) return {};
  auto [mn, mx] = std::minmax_element(ys.begin(), ys.end());
  int e_lo = static_cast<int>(std::floor(std::log10(*mn) + 1e-9));
  int e_hi = static_cast<int>(std::ceil(std::log10(*mx) - 1e-9));
  if (e_hi <= e_lo) --e_lo, ++e_hi;
  std::string lo = panel.y_min ? fmt::format("{}", *panel.y_min) : fmt::format("1e{}", e_lo);
  std::string hi = panel.y_max ? fmt::format("{}", *panel.y_max) : fmt::format("1e{}", e_hi);
  const int decades = e_hi - e_lo;
  const int step = std::max(1, (decades + 7) / 8);
  const bool plain = e_lo >= -3 && e_hi <= 3;
  std::vector<std::string> tics;
  for (int e = e_lo; e <= e_hi; e += step)
    for (int m : {1, 2, 5}) {
      if (m > 1 && (decades > 2 || e == e_hi)) continue;
      tics.push_back(fmt::format("{} {}e{}", quoted(decade_label(m, e, plain)), m, e));
    }
  std::string list;
  for (size_t i = 0; i < tics.size(); ++i) list += (i ? ", " : "") + tics[i];
  return fmt::format("set yrange [{}:{}]\nset ytics ({})\n", lo, hi, list);
}

struct Plan {
  std::string data;  // the inline data blocks
  std::string plot;  // multiplot commands drawing every panel
};

Plan plan(const Figure& fig) {
  if (fig.columns < 1) fail("figure '{}': columns must be at least 1", fig.title);
  if (fig.panels.empty()) fail("figure '{}' has no panels", fig.title);
  if (fig.max_columns < 1) fail("figure '{}': max_columns must be at least 1", fig.title);
  if (fig.font_size < 4) fail("figure '{}': font_size must be at least 4", fig.title);
  Plan out;
  out.plot += fmt::format("set multiplot layout {},{} rowsfirst title {} font ',{}'\n", fig.grid_rows(),
                          fig.grid_columns(), quoted(fig.title), fig.font_size + 1);
  for (size_t p = 0; p < fig.panels.size(); ++p) {
    const Panel& panel = fig.panels[p];
    std::vector<std::string> items;
    bool has_titles = false;  // anything for the legend
    size_t block = 0;
    if (const auto& h = panel.heat) {
      if (h->z.size() != h->x.size() * h->y.size() || h->x.empty())
        fail("heat map '{}': {} values for a {} x {} grid", panel.title, h->z.size(), h->x.size(), h->y.size());
      std::string rows_text;  // one block of x y z lines per y, blank-line separated: gnuplot's grid
      for (size_t iy = 0; iy < h->y.size(); ++iy) {
        for (size_t ix = 0; ix < h->x.size(); ++ix) {
          const double z = h->z[iy * h->x.size() + ix];
          const bool ok = std::isfinite(z) && (!h->log_z || z > 0);
          rows_text +=
              ok ? fmt::format("{} {} {}\n", h->x[ix], h->y[iy], z) : fmt::format("{} {} NaN\n", h->x[ix], h->y[iy]);
        }
        rows_text += "\n";
      }
      out.data += fmt::format("{} << EOD\n{}EOD\n", block_name(p, block), rows_text);
      items.push_back(fmt::format("{} using 1:2:3 with image notitle", block_name(p, block)));
      ++block;
    }
    for (size_t s = 0; s < panel.lines.size(); ++s, ++block) {
      const auto& ls = panel.lines[s];
      check_sizes("line series", ls.label, ls.x.size(), ls.y.size());
      std::string rows_text;
      for (size_t i = 0; i < ls.x.size(); ++i)
        if (drawable(ls.x[i], ls.y[i], panel.log_y)) rows_text += fmt::format("{} {}\n", ls.x[i], ls.y[i]);
      if (rows_text.empty()) continue;
      out.data += fmt::format("{} << EOD\n{}EOD\n", block_name(p, block), rows_text);
      has_titles = has_titles || !ls.label.empty();
      const char* colour = kPalette[s % kPaletteSize];
      std::string with;
      switch (ls.style) {
        case LineStyle::LinesPoints: with = "linespoints lw 2 pt 7 ps 0.7"; break;
        case LineStyle::Lines: with = "lines lw 2"; break;
        case LineStyle::Points: with = "points pt 7 ps 0.9"; break;
        case LineStyle::Dashed: with = "lines lw 2 dt 2"; break;
      }
      items.push_back(fmt::format("{} using 1:2 with {} lc rgb '{}' {}", block_name(p, block), with, colour,
                                  ls.label.empty() ? "notitle" : "title " + quoted(ls.label)));
    }
    double width = bar_width(panel);
    for (size_t s = 0; s < panel.bars.size(); ++s, ++block) {
      const auto& bs = panel.bars[s];
      check_sizes("bar series", bs.label, bs.x.size(), bs.y.size());
      // Several bar series side by side: shift each by a fraction of a slot.
      double shift = (static_cast<double>(s) - (panel.bars.size() - 1) / 2.0) * width;
      std::string rows_text;
      for (size_t i = 0; i < bs.x.size(); ++i)
        if (drawable(bs.x[i], bs.y[i], panel.log_y)) rows_text += fmt::format("{} {}\n", bs.x[i] + shift, bs.y[i]);
      if (rows_text.empty()) continue;
      out.data += fmt::format("{} << EOD\n{}EOD\n", block_name(p, block), rows_text);
      has_titles = has_titles || !bs.label.empty();
      const char* colour = kPalette[(panel.lines.size() + s) % kPaletteSize];
      items.push_back(fmt::format("{} using 1:2:({}) with boxes fs solid 0.6 border lc rgb '#333333' lc rgb '{}' {}",
                                  block_name(p, block), width, colour,
                                  bs.label.empty() ? "notitle" : "title " + quoted(bs.label)));
    }
    bool has_data = !items.empty();
    for (const auto& h : panel.hlines) {
      if (!drawable(0.0, h.y, panel.log_y)) continue;
      has_titles = has_titles || !h.label.empty();
      items.push_back(fmt::format("{} with lines lw 1.5 dt 3 lc rgb '#555555' {}", h.y,
                                  h.label.empty() ? "notitle" : "title " + quoted(h.label)));
    }

    // Settings persist between multiplot panels, so every panel starts afresh.
    std::string& g = out.plot;
    g += "reset\nset grid lt 1 lw 1 lc rgb '#d8d8d8'\n";
    // The legend goes below the plot, where it can cover no data.
    if (has_titles)
      g += fmt::format("set key bmargin center horizontal noautotitle font ',{}' samplen 2 height 1\n",
                       fig.font_size - 1);
    else
      g += "unset key\n";
    // Breathing room around the data, so extreme points and bars are not clipped.
    // (Log axes already extend to whole decades.)
    g += panel.log_y ? "set offsets graph 0.02, graph 0.02, 0, 0\n"
                     : "set offsets graph 0.02, graph 0.02, graph 0.06, graph 0.02\n";
    g += fmt::format("set title {}\nset xlabel {}\nset ylabel {}\n", quoted(panel.title), quoted(panel.x_label),
                     quoted(panel.y_label));
    if (!has_data) {
      g += "set label 1 'no data' at graph 0.5,0.5 center\nset xrange [0:1]\nset yrange [0:1]\n"
           "plot 2 notitle\n";
      continue;
    }
    if (panel.log_y) g += "set logscale y\n";
    if (const auto& h = panel.heat) {
      g += "set datafile missing 'NaN'\nset palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', "
           "0.75 '#5ec962', 1 '#fde725')\n";
      g += fmt::format("set cblabel {}\n", quoted(h->z_label));
      if (h->log_z) g += "set logscale cb\n";
      // Cells centred on their y values (layers): the range ends half a cell out.
      const auto [lo, hi] = std::minmax_element(h->y.begin(), h->y.end());
      const double half = h->y.size() > 1 ? (*hi - *lo) / (2.0 * static_cast<double>(h->y.size() - 1)) : 0.5;
      if (!panel.y_min && !panel.y_max)
        g += fmt::format("set yrange [{}:{}]\nset ytics {}, {}\n", *lo - half, *hi + half, *lo,
                         integer_step(*hi - *lo + 1));
      g += "set grid front\n";
    }
    auto bound = [](const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string("*"); };
    // Bars grow from zero, so a linear bar panel starts its y axis there.
    std::optional<double> y_min = panel.y_min;
    if (!y_min && !panel.log_y && !panel.bars.empty()) y_min = 0.0;
    std::string x_axis = integer_x_axis(panel);
    if (!panel.x_tick_labels.empty()) {  // named ticks at 0, 1, ...
      std::vector<std::string> tics;
      for (size_t i = 0; i < panel.x_tick_labels.size(); ++i)
        tics.push_back(fmt::format("{} {}", quoted(panel.x_tick_labels[i]), i));
      x_axis = fmt::format("set xrange [{}:{}]\nset xtics ({}) rotate by -30\n", -0.5,
                           static_cast<double>(panel.x_tick_labels.size()) - 0.5, fmt::join(tics, ", "));
    }
    g += x_axis.empty() ? fmt::format("set xrange [{}:{}]\n", bound(panel.x_min), bound(panel.x_max)) : x_axis;
    std::string y_axis = panel.log_y ? log_y_axis(panel) : std::string();
    if (!panel.heat || panel.y_min || panel.y_max)  // a heat map's own range stands otherwise
      g += y_axis.empty() ? fmt::format("set yrange [{}:{}]\n", bound(y_min), bound(panel.y_max)) : y_axis;
    g += "plot ";
    for (size_t i = 0; i < items.size(); ++i) g += (i ? ", \\\n     " : "") + items[i];
    g += "\n";
  }
  out.plot += "unset multiplot\n";
  return out;
}

// A private temporary directory removed with everything in it on scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "streamgauge-fig-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) fail("cannot create a temporary directory: {}", std::strerror(errno));
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string gnuplot_executable() {
  const char* env = std::getenv("STREAMGAUGE_GNUPLOT");
  return env && *env ? env : "gnuplot";
}

// Runs `gnuplot script` with stdin from /dev/null and stdout+stderr to `log`.
void run_gnuplot(const std::filesystem::path& script, const std::filesystem::path& log) {
  std::string exe = gnuplot_executable();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::string script_arg = script.string();
  char* argv[] = {exe.data(), script_arg.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, exe.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    fail(
        "cannot run gnuplot ('{}'): {}; install the Debian package gnuplot-nox (or set STREAMGAUGE_GNUPLOT), or run "
        "with --no-figures",
        exe, std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail("cannot wait for gnuplot: {}", std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string text;
  try {
    text = read_file(log);
  } catch (const Error&) {
  }
  // One line: gnuplot's messages joined, trimmed to a readable length.
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (text.size() > 400) text = text.substr(0, 400) + "...";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    fail("cannot run gnuplot ('{}'): not found; install the Debian package gnuplot-nox, or run with --no-figures", exe);
  fail("gnuplot failed ({}): {}",
       WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                         : fmt::format("signal {}", WTERMSIG(status)),
       text);
}

}  // namespace

namespace {

// Legend entries of a panel (at most: a series without drawable points has none).
size_t legend_entries(const Panel& panel) {
  size_t n = 0;
  for (const auto& l : panel.lines) n += !l.label.empty();
  for (const auto& b : panel.bars) n += !b.label.empty();
  for (const auto& h : panel.hlines) n += !h.label.empty();
  return n;
}

}  // namespace

int Figure::grid_columns() const {
  return static_cast<int>(
      std::min<size_t>(std::max(1, std::min(columns, max_columns)), std::max<size_t>(1, panels.size())));
}

int Figure::grid_rows() const {
  const size_t cols = static_cast<size_t>(grid_columns());
  return static_cast<int>((panels.size() + cols - 1) / cols);
}

std::string Figure::script(const std::string& terminal_and_output) const {
  Plan p = plan(*this);
  return p.data + terminal_and_output + "\n" + p.plot;
}

void Figure::render(const std::filesystem::path& png_path, const std::filesystem::path& svg_path) const {
  if (png_path.empty() && svg_path.empty()) return;
  Plan p = plan(*this);
  size_t width = static_cast<size_t>(grid_columns()) * panel_width;
  // Legends sit below their panel, one entry per line when gnuplot finds
  // them too long to set side by side: every row of panels grows by the
  // longest legend's lines, so the plots keep their height.
  size_t legend_lines = 0;
  for (const auto& panel : panels) legend_lines = std::max(legend_lines, legend_entries(panel));
  size_t row_height = panel_height + (legend_lines > 1 ? (legend_lines - 1) * (font_size + 5) : 0);
  size_t height = static_cast<size_t>(grid_rows()) * row_height + 2 * font_size + 10;  // + multiplot title
  TempDir tmp;
  std::string script = p.data;
  if (!png_path.empty())
    script += fmt::format(
        "set terminal pngcairo size {},{} noenhanced font 'DejaVu Sans,{}' background '#ffffff'\n"
        "set output {}\n{}set output\n",
        width, height, font_size, quoted((tmp.path / "figure.png").string()), p.plot);
  if (!svg_path.empty())
    script += fmt::format(
        "set terminal svg size {},{} noenhanced font 'DejaVu Sans,{}' background '#ffffff'\n"
        "set output {}\n{}set output\n",
        width, height, font_size, quoted((tmp.path / "figure.svg").string()), p.plot);
  write_file_atomic(tmp.path / "figure.gp", script);
  run_gnuplot(tmp.path / "figure.gp", tmp.path / "gnuplot.log");
  // Read both results before writing either, so a failure leaves no output.
  std::string png = png_path.empty() ? std::string() : read_file(tmp.path / "figure.png");
  std::string svg = svg_path.empty() ? std::string() : read_file(tmp.path / "figure.svg");
  if ((!png_path.empty() && png.empty()) || (!svg_path.empty() && svg.empty()))
    fail("gnuplot wrote an empty figure for '{}'", title);
  if (!png_path.empty()) write_file_atomic(png_path, png);
  if (!svg_path.empty()) write_file_atomic(svg_path, svg);
}

}  // namespace sg::report
