#pragma once
// Figures drawn by gnuplot (Debian gnuplot-nox), run as a subprocess on a
// generated script and data files in a private temporary directory. A Figure
// is a grid of panels; each panel holds line series, bar series and
// horizontal reference lines (e.g. gain = 1). render() writes a PNG (pngcairo)
// and an SVG of the same figure, each atomically and only if gnuplot drew
// both. The same Figure always gives the same script, hence the same bytes.
//
// Non-finite points (and non-positive ones on a log-y panel) are left out of
// the data files rather than failing the plot; a panel with nothing left to
// draw shows "no data".
//
// Axes are chosen for reading: when every x value of a panel is an integer
// (layers) the x axis labels integers only (step 1, 2, 5, 10, ...), padded a
// little on both sides without fractional ticks; a log-y axis labels whole
// decades as 0.01 ... 1000, or 1e-5 beyond that. Legends sit below their
// panel, never over the data.
//
// The gnuplot executable is `gnuplot` on PATH, or $STREAMGAUGE_GNUPLOT.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sg::report {

enum class LineStyle { LinesPoints, Lines, Points, Dashed };

struct LineSeries {
  std::string label;  // legend entry; empty = not in the legend
  std::vector<double> x, y;
  LineStyle style = LineStyle::LinesPoints;
};

struct BarSeries {
  std::string label;
  std::vector<double> x, y;  // bar centres and heights
};

struct RefLine {
  double y = 1.0;
  std::string label;  // empty = not in the legend
};

// Values over a grid, drawn as coloured cells: z[iy * x.size() + ix] at
// (x[ix], y[iy]); x and y evenly spaced. NaN cells stay blank.
struct HeatMap {
  std::vector<double> x, y, z;
  std::string z_label;  // the colour scale's label
  bool log_z = false;
};

struct Panel {
  std::string title, x_label, y_label;
  bool log_y = false;
  std::optional<double> x_min, x_max, y_min, y_max;  // unset = autoscale
  std::vector<LineSeries> lines;
  std::vector<BarSeries> bars;
  std::vector<RefLine> hlines;
  std::optional<HeatMap> heat;  // drawn under the lines
  // Tick labels at x = 0, 1, ... (e.g. checkpoint names); empty = numbers.
  std::vector<std::string> x_tick_labels;
};

struct Figure {
  std::string title;
  int columns = 1;  // panels fill a grid row by row
  // The grid never has more columns than this (a wider request wraps to more
  // rows), so a figure shown at page width keeps legible text.
  int max_columns = 2;
  // Pixels (PNG) / points (SVG); a panel with a long legend below it is
  // drawn taller by the legend's lines, so its plot keeps its height.
  int panel_width = 640, panel_height = 440;
  int font_size = 14;  // text size (the legend one point smaller)
  std::vector<Panel> panels;

  // The grid actually drawn: min(columns, max_columns, number of panels) columns.
  int grid_columns() const;
  int grid_rows() const;

  // The gnuplot script drawing this figure with the data files it names
  // (exposed for tests and debugging). `terminal_and_output` is prepended.
  // Throws sg::Error on an inconsistent figure (x and y of different length).
  std::string script(const std::string& terminal_and_output) const;

  // Draws the figure; an empty path skips that format. Throws sg::Error (with
  // gnuplot's stderr) if gnuplot is missing or fails; then nothing is written.
  void render(const std::filesystem::path& png_path, const std::filesystem::path& svg_path) const;
};

}  // namespace sg::report
