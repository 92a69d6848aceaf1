// flowtmpl/training/schedules.hpp: learning-rate schedules, callables of the optimizer
// step (0-based) that fit_options.schedule takes:
//   constant_lr{lr}                           lr
//   cosine_lr{lr, total_steps[, min_lr]}      PyTorch's CosineAnnealingLR closed form:
//       min_lr + (lr - min_lr) (1 + cos(pi t / total_steps)) / 2, t capped at total_steps
//   step_lr{lr, step_size[, gamma]}           lr gamma^floor(step / step_size)
#pragma once

#include <algorithm>
#include <cmath>

namespace flowtmpl {

struct constant_lr {
  double lr;
  double operator()(long) const { return lr; }
};
struct cosine_lr {
  double lr;           // at step 0
  long total_steps;    // reaches min_lr here
  double min_lr = 0;
  double operator()(long step) const {
    const double t = double(std::min(step, total_steps)) / double(std::max(total_steps, 1L));
    return min_lr + (lr - min_lr) * 0.5 * (1 + std::cos(3.14159265358979323846 * t));
  }
};
struct step_lr {
  double lr;
  long step_size;
  double gamma = 0.1;
  double operator()(long step) const { return lr * std::pow(gamma, double(step / std::max(step_size, 1L))); }
};

}  // namespace flowtmpl
