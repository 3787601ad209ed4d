#pragma once
// Small building blocks for the self-contained report: escaping, base64 data URIs and inline
// SVG charts (no scripts or fonts fetched from anywhere).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace reelscale::report {

// Escapes & < > " ' for text and attribute values.
std::string escape(std::string_view s);
std::string base64(std::string_view bytes);
std::string data_uri(const std::string& mime, std::string_view bytes);

// "1:02:03.456" (or "2.5 s" style for durations under a minute when `short_form`).
std::string format_seconds(double s);
std::string format_bytes(int64_t bytes);
std::string format_number(double v, int decimals);

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length; NaN y values break the line
  std::string css_class;     // colour, from the report's stylesheet
};
struct ChartOptions {
  int width = 960, height = 220;
  std::string x_label, y_label;
  std::vector<double> x_marks;           // vertical lines (e.g. scene cuts)
  std::vector<double> y_lines;           // horizontal lines (e.g. a threshold)
  std::vector<std::string> y_line_labels;
};
// An SVG line chart of the series, axes scaled to the data (and to the y_lines).
std::string line_chart(const std::vector<Series>& series, const ChartOptions& options);

struct Bar {
  std::string lane;      // a row of the Gantt chart (a worker)
  double start = 0, end = 0;
  std::string label;     // tooltip
  std::string css_class; // done | failed | lost | duplicate | running | superseded
};
// An SVG Gantt chart: one lane per distinct Bar::lane, in order of first appearance; time in
// seconds from `t0`.
// A time axis label in one format for the whole axis: "12.5 s" when the axis spans under a
// minute, "m:ss" under an hour, "h:mm:ss" beyond.
std::string axis_time_label(double t, double span, double step);
std::string gantt_chart(const std::vector<Bar>& bars, double t0, double t1, int width = 960);

struct Span {
  double start = 0, end = 0;  // in frames
  std::string label, css_class;
};
// A horizontal strip of spans over [0, total) (the scene timeline, the shard plan).
std::string strip_chart(const std::vector<Span>& spans, double total, int width = 960, int height = 28);

}  // namespace reelscale::report
