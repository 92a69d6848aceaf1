// examples/image_grid.hpp: grayscale images (MNIST digits, samples of an image flow)
// laid out in a grid in one PNG, written with stb_image_write (Debian's libstb-dev).
// Each image is h x w values in [0, 1] (0 black, 1 white), row-major; the grid shows
// each pixel as a scale x scale block, with pad pixels of mid gray between the cells
// and around them (a cell never set stays mid gray too).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <stb_image_write.h>

namespace plot {

class image_grid {
 public:
  image_grid(int rows, int cols, int h, int w, int pad, int scale = 2)
      : rows_(rows), cols_(cols), h_(h), w_(w), pad_(pad), scale_(scale) {
    if (rows < 1 || cols < 1 || h < 1 || w < 1 || pad < 0 || scale < 1)
      throw std::invalid_argument("image_grid: rows, cols, h, w and scale must be at least 1, pad at least 0");
    gray_.assign(std::size_t(width()) * std::size_t(height()), mid_gray);
  }

  int width() const { return cols_ * w_ * scale_ + (cols_ + 1) * pad_; }
  int height() const { return rows_ * h_ * scale_ + (rows_ + 1) * pad_; }

  // Cell (r, c): the h*w values at pixels, row-major, each clamped to [0, 1] (NaN is 0).
  void set(int r, int c, const float* pixels) {
    if (r < 0 || r >= rows_ || c < 0 || c >= cols_)
      throw std::out_of_range("image_grid: cell (" + std::to_string(r) + ", " + std::to_string(c) + ") is outside the " +
                              std::to_string(rows_) + " x " + std::to_string(cols_) + " grid");
    const int x0 = pad_ + c * (w_ * scale_ + pad_), y0 = pad_ + r * (h_ * scale_ + pad_);
    for (int y = 0; y < h_; ++y)
      for (int x = 0; x < w_; ++x) {
        const float v = pixels[std::size_t(y) * std::size_t(w_) + std::size_t(x)];
        const float t = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;  // NaN fails v > 0: black
        const auto g = std::uint8_t(255.0f * t + 0.5f);
        for (int dy = 0; dy < scale_; ++dy)
          for (int dx = 0; dx < scale_; ++dx)
            gray_[std::size_t(y0 + y * scale_ + dy) * std::size_t(width()) + std::size_t(x0 + x * scale_ + dx)] = g;
      }
  }

  // The grid as a 1-channel (grayscale) PNG; throws std::runtime_error naming the path.
  void write_png(const std::string& path) const {
    if (!stbi_write_png(path.c_str(), width(), height(), 1, gray_.data(), width()))
      throw std::runtime_error("image_grid: could not write " + path);
  }

 private:
  static constexpr std::uint8_t mid_gray = 128;
  int rows_, cols_, h_, w_, pad_, scale_;
  std::vector<std::uint8_t> gray_;
};

}  // namespace plot
