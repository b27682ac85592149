#include "report/figure.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

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
    if (c == '\'') out += "''";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out + "'";
}

bool drawable(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

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

struct Plan {
  std::string data;  // the inline data blocks
  std::string plot;  // multiplot commands drawing every panel
};

Plan plan(const Figure& fig) {
  if (fig.columns < 1) fail("figure '{}': columns must be at least 1", fig.title);
  if (fig.panels.empty()) fail("figure '{}' has no panels", fig.title);
  Plan out;
  size_t rows = (fig.panels.size() + fig.columns - 1) / fig.columns;
  out.plot += fmt::format("set multiplot layout {},{} rowsfirst title {}\n", rows,
                          std::min<size_t>(fig.columns, fig.panels.size()), quoted(fig.title));
  for (size_t p = 0; p < fig.panels.size(); ++p) {
    const Panel& panel = fig.panels[p];
    std::vector<std::string> items;
    size_t block = 0;
    for (size_t s = 0; s < panel.lines.size(); ++s, ++block) {
      const auto& ls = panel.lines[s];
      check_sizes("line series", ls.label, ls.x.size(), ls.y.size());
      std::string rows_text;
      for (size_t i = 0; i < ls.x.size(); ++i)
        if (drawable(ls.x[i], ls.y[i], panel.log_y)) rows_text += fmt::format("{} {}\n", ls.x[i], ls.y[i]);
      if (rows_text.empty()) continue;
      out.data += fmt::format("{} << EOD\n{}EOD\n", block_name(p, block), rows_text);
      const char* colour = kPalette[s % kPaletteSize];
      std::string with;
      switch (ls.style) {
        case LineStyle::LinesPoints: with = "linespoints lw 2 pt 7 ps 0.7"; break;
        case LineStyle::Lines: with = "lines lw 2"; break;
        case LineStyle::Points: with = "points pt 7 ps 0.9"; break;
        case LineStyle::Dashed: with = "lines lw 2 dt 2"; break;
      }
      items.push_back(fmt::format("{} using 1:2 with {} lc rgb '{}' {}", block_name(p, block), with,
                                  colour, ls.label.empty() ? "notitle" : "title " + quoted(ls.label)));
    }
    double width = bar_width(panel);
    for (size_t s = 0; s < panel.bars.size(); ++s, ++block) {
      const auto& bs = panel.bars[s];
      check_sizes("bar series", bs.label, bs.x.size(), bs.y.size());
      // Several bar series side by side: shift each by a fraction of a slot.
      double shift = (static_cast<double>(s) - (panel.bars.size() - 1) / 2.0) * width;
      std::string rows_text;
      for (size_t i = 0; i < bs.x.size(); ++i)
        if (drawable(bs.x[i], bs.y[i], panel.log_y))
          rows_text += fmt::format("{} {}\n", bs.x[i] + shift, bs.y[i]);
      if (rows_text.empty()) continue;
      out.data += fmt::format("{} << EOD\n{}EOD\n", block_name(p, block), rows_text);
      const char* colour = kPalette[(panel.lines.size() + s) % kPaletteSize];
      items.push_back(fmt::format("{} using 1:2:({}) with boxes fs solid 0.6 border lc rgb '#333333' lc rgb '{}' {}",
                                  block_name(p, block), width, colour,
                                  bs.label.empty() ? "notitle" : "title " + quoted(bs.label)));
    }
    bool has_data = !items.empty();
    for (const auto& h : panel.hlines) {
      if (!drawable(0.0, h.y, panel.log_y)) continue;
      items.push_back(fmt::format("{} with lines lw 1.5 dt 3 lc rgb '#555555' {}", h.y,
                                  h.label.empty() ? "notitle" : "title " + quoted(h.label)));
    }

    // Settings persist between multiplot panels, so every panel starts afresh.
    std::string& g = out.plot;
    g += "reset\nset grid lt 1 lw 1 lc rgb '#d8d8d8'\nset key top left noautotitle font ',9'\n";
    // Breathing room around the data, so extreme points and bars are not clipped.
    // (Log axes already extend to whole decades.)
    g += panel.log_y ? "set offsets graph 0.02, graph 0.02, 0, 0\n"
                     : "set offsets graph 0.02, graph 0.02, graph 0.06, graph 0.02\n";
    g += fmt::format("set title {}\nset xlabel {}\nset ylabel {}\n", quoted(panel.title),
                     quoted(panel.x_label), quoted(panel.y_label));
    if (!has_data) {
      g += "set label 1 'no data' at graph 0.5,0.5 center\nset xrange [0:1]\nset yrange [0:1]\n"
           "plot 2 notitle\n";
      continue;
    }
    if (panel.log_y) g += "set logscale y\n";
    auto bound = [](const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string("*"); };
    // Bars grow from zero, so a linear bar panel starts its y axis there.
    std::optional<double> y_min = panel.y_min;
    if (!y_min && !panel.log_y && !panel.bars.empty()) y_min = 0.0;
    g += fmt::format("set xrange [{}:{}]\nset yrange [{}:{}]\n", bound(panel.x_min), bound(panel.x_max),
                     bound(y_min), bound(panel.y_max));
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
    fail("cannot run gnuplot ('{}'): {}; install the Debian package gnuplot-nox (or set STREAMGAUGE_GNUPLOT)",
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
    fail("cannot run gnuplot ('{}'): not found; install the Debian package gnuplot-nox", exe);
  fail("gnuplot failed ({}): {}",
       WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                         : fmt::format("signal {}", WTERMSIG(status)),
       text);
}

}  // namespace

std::string Figure::script(const std::string& terminal_and_output) const {
  Plan p = plan(*this);
  return p.data + terminal_and_output + "\n" + p.plot;
}

void Figure::render(const std::filesystem::path& png_path, const std::filesystem::path& svg_path) const {
  if (png_path.empty() && svg_path.empty()) return;
  Plan p = plan(*this);
  size_t rows = (panels.size() + columns - 1) / columns;
  size_t cols = std::min<size_t>(columns, panels.size());
  size_t width = cols * panel_width, height = rows * panel_height + 30;  // + multiplot title
  TempDir tmp;
  std::string script = p.data;
  if (!png_path.empty())
    script += fmt::format("set terminal pngcairo size {},{} noenhanced font 'DejaVu Sans,10' background '#ffffff'\n"
                          "set output {}\n{}set output\n",
                          width, height, quoted((tmp.path / "figure.png").string()), p.plot);
  if (!svg_path.empty())
    script += fmt::format("set terminal svg size {},{} noenhanced font 'DejaVu Sans,10' background '#ffffff'\n"
                          "set output {}\n{}set output\n",
                          width, height, quoted((tmp.path / "figure.svg").string()), p.plot);
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
