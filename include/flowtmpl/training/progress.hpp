// flowtmpl/training/progress.hpp: what fit reports after each epoch (fit_progress) and
// its default report, one line on stderr:
//   epoch 3/100  step 120/4000  loss 1.2345  valid 1.3456  lr 1.00e-03  51234 samples/s  ETA 1:02
// (valid only with validation data; the ETA as m:ss or h:mm:ss), with "  jumps 2" at
// the end when steps of the epoch jumped.
#pragma once

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace flowtmpl {

struct fit_progress {
  int epoch = 0, epochs = 0;       // 1-based epoch just finished
  long step = 0, total_steps = 0;  // optimizer steps done / planned
  double train_loss = 0;           // mean training NLL over the epoch's batches
  double valid_loss = std::numeric_limits<double>::quiet_NaN();  // NaN without validation data
  double learning_rate = 0;
  double samples_per_second = 0;
  double eta_seconds = 0;
  long jumps = 0;  // steps of this epoch whose loss or gradient norm jumped (fit_options::jump_factor)
};

namespace detail {

inline std::string format_duration(double s) {
  const long t = long(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

inline void print_progress(const fit_progress& p) {
  char valid[48] = "";
  if (!std::isnan(p.valid_loss)) std::snprintf(valid, sizeof valid, "  valid %.4f", p.valid_loss);
  char jumps[40] = "";
  if (p.jumps > 0) std::snprintf(jumps, sizeof jumps, "  jumps %ld", p.jumps);
  std::fprintf(stderr, "epoch %d/%d  step %ld/%ld  loss %.4f%s  lr %.2e  %.0f samples/s  ETA %s%s\n", p.epoch, p.epochs,
               p.step, p.total_steps, p.train_loss, valid, p.learning_rate, p.samples_per_second,
               format_duration(p.eta_seconds).c_str(), jumps);
}

}  // namespace detail
}  // namespace flowtmpl
