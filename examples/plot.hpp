// examples/plot.hpp: the pictures the training examples write: panels of 2-D densities
// (heat maps of a log density on a grid) and of point clouds (a 2-D histogram of the
// points), side by side in one PNG, written with stb_image_write (Debian's libstb-dev).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <stb_image_write.h>

namespace plot {

// The region of the plane a panel shows.
struct window {
  double x0, x1, y0, y1;
};

// A perceptually ordered dark-blue -> teal -> yellow colour map (t in [0, 1]).
inline std::array<std::uint8_t, 3> colour(double t) {
  static constexpr double stops[][3] = {{0.05, 0.03, 0.15}, {0.23, 0.15, 0.45}, {0.13, 0.45, 0.55},
                                        {0.20, 0.70, 0.45}, {0.75, 0.85, 0.20}, {0.99, 0.91, 0.15}};
  constexpr int n = 6;
  t = std::clamp(t, 0.0, 1.0) * (n - 1);
  const int i = std::min(int(t), n - 2);
  const double f = t - i;
  std::array<std::uint8_t, 3> c{};
  for (int k = 0; k < 3; ++k) c[k] = std::uint8_t(255.0 * (stops[i][k] * (1 - f) + stops[i + 1][k] * f) + 0.5);
  return c;
}

// An image of panels of size x size pixels, `columns` per row.
class figure {
 public:
  figure(int rows, int columns, int size) : rows_(rows), cols_(columns), size_(size), rgb_(std::size_t(3) * width() * height(), 255) {}

  int width() const { return cols_ * size_ + (cols_ + 1) * gap; }
  int height() const { return rows_ * size_ + (rows_ + 1) * gap; }

  // Panel (r, c): density exp(log_density(x, y)) as a heat map, scaled to its maximum.
  void heat_map(int r, int c, const window& w, const std::function<double(double, double)>& log_density) {
    std::vector<double> v(std::size_t(size_) * size_);
    double mx = -INFINITY;
    for (int py = 0; py < size_; ++py)
      for (int px = 0; px < size_; ++px) {
        const double x = w.x0 + (px + 0.5) / size_ * (w.x1 - w.x0);
        const double y = w.y1 - (py + 0.5) / size_ * (w.y1 - w.y0);
        const double l = log_density(x, y);
        v[std::size_t(py) * size_ + px] = l;
        if (std::isfinite(l)) mx = std::max(mx, l);
      }
    for (int py = 0; py < size_; ++py)
      for (int px = 0; px < size_; ++px) {
        const double l = v[std::size_t(py) * size_ + px];
        put(r, c, px, py, colour(std::isfinite(l) ? std::exp(l - mx) : 0.0));
      }
  }

  // Panel (r, c): the points (xs[i], ys[i]) as a 2-D histogram, square-root scaled.
  void points(int r, int c, const window& w, const std::vector<double>& xs, const std::vector<double>& ys) {
    std::vector<double> h(std::size_t(size_) * size_, 0.0);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const int px = int((xs[i] - w.x0) / (w.x1 - w.x0) * size_);
      const int py = int((w.y1 - ys[i]) / (w.y1 - w.y0) * size_);
      if (px >= 0 && px < size_ && py >= 0 && py < size_) h[std::size_t(py) * size_ + px] += 1;
    }
    const double mx = std::max(1.0, *std::max_element(h.begin(), h.end()));
    for (int py = 0; py < size_; ++py)
      for (int px = 0; px < size_; ++px) put(r, c, px, py, colour(std::sqrt(h[std::size_t(py) * size_ + px] / mx)));
  }

  void write_png(const std::string& path) const {
    if (!stbi_write_png(path.c_str(), width(), height(), 3, rgb_.data(), 3 * width()))
      throw std::runtime_error("could not write " + path);
  }

 private:
  static constexpr int gap = 6;
  void put(int r, int c, int px, int py, const std::array<std::uint8_t, 3>& rgb) {
    const int X = gap + c * (size_ + gap) + px, Y = gap + r * (size_ + gap) + py;
    for (int k = 0; k < 3; ++k) rgb_[(std::size_t(Y) * width() + X) * 3 + k] = rgb[k];
  }
  int rows_, cols_, size_;
  std::vector<std::uint8_t> rgb_;
};

}  // namespace plot
