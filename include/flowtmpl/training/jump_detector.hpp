// flowtmpl/training/jump_detector.hpp: how fit notices a step whose batch loss or
// gradient norm jumps by orders of magnitude (a batch with outlying samples, a
// learning rate too large), and what it reports (fit_jump).
//
//   fit_jump           one jumping step: step, epoch, which quantity, its value and the
//                      typical value it is compared with, and a one-sentence message
//   detail::jump_detector{factor}
//     .check(step, epoch, loss, grad_norm) -> fit_jump or nothing, for a step about to
//                      be applied
//     .accept(loss, grad_norm, steps_per_epoch) -> the jumps of the warm-up, once it ends
//
// The first warmup_steps = 20 steps of a run are applied and kept; when they are in,
// the typical values start as their medians (the loss's typical change as the median
// absolute deviation), so outlying batches among them do not set the scale, and those
// of them that pass the limits below are reported then, at step 20 (applied already:
// skip_jumps cannot skip them). From then on the typical values are exponential moving
// averages (weight 1/20 for the newest step) of the batch loss, its absolute change
// from the average, and the gradient's global 2-norm (before clipping), over the
// applied steps, a jumping step counting at the limit it passed (one outlier moves the
// averages little; a lasting change of level is followed within tens of steps) and a
// skipped one not at all. A step jumps when
//   loss > typical loss + factor x max(typical change, 1e-6 (1 + |typical loss|)), or
//   gradient norm > factor x typical gradient norm.
// factor = 0 turns the detection off; a non-finite loss or gradient is not a jump (fit
// stops on it, training/fit_loop.hpp). The detector's state is part of a run's state
// (fit_state::jump_*), so a resumed run decides as the uninterrupted one.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "../errors.hpp"

namespace flowtmpl {

enum class fit_jump_kind { loss, gradient_norm };

struct fit_jump {
  long step = 0;   // 0-based optimizer step (the step the batch was for)
  int epoch = 0;   // 1-based
  fit_jump_kind kind = fit_jump_kind::loss;
  double value = 0;    // the batch loss or the gradient norm
  double typical = 0;  // its moving average before this step
  bool skipped = false;  // fit_options::skip_jumps: the step's update was not applied
  std::string message;
};

namespace detail {

struct jump_detector {
  static constexpr double weight = 1.0 / 20;
  static constexpr long warmup_steps = 20;
  double factor = 0;
  // the state, kept in fit_state
  long seen = 0;                                // applied steps
  double loss = 0, change = 0, grad_norm = 0;   // typical values, once armed
  std::vector<double> warmup_loss, warmup_norm;  // the warm-up's steps, until it ends

  explicit jump_detector(double jump_factor) : factor(jump_factor) {}

  bool armed() const { return factor > 0 && seen >= warmup_steps; }
  double loss_limit() const { return loss + factor * std::max(change, 1e-6 * (1 + std::abs(loss))); }
  double norm_limit() const { return factor * grad_norm; }

  std::optional<fit_jump> check(long step, int epoch, double batch_loss, double norm) const {
    if (!armed() || !std::isfinite(batch_loss) || !std::isfinite(norm)) return std::nullopt;
    return judge(step, epoch, batch_loss, norm);
  }

  std::vector<fit_jump> accept(double batch_loss, double norm, long steps_per_epoch) {
    std::vector<fit_jump> late;
    if (factor <= 0) return late;
    if (seen < warmup_steps) {
      warmup_loss.push_back(batch_loss);
      warmup_norm.push_back(norm);
      if (++seen == warmup_steps) {
        loss = median(warmup_loss);
        grad_norm = median(warmup_norm);
        std::vector<double> deviation;
        for (const double l : warmup_loss) deviation.push_back(std::abs(l - loss));
        change = median(deviation);
        for (long k = 0; k < warmup_steps; ++k)
          if (auto j = judge(k, int(k / steps_per_epoch) + 1, warmup_loss[std::size_t(k)], warmup_norm[std::size_t(k)])) {
            j->message += " (found when the first 20 steps were in; applied)";
            late.push_back(*j);
          }
        warmup_loss.clear();
        warmup_norm.clear();
      }
      return late;
    }
    batch_loss = std::min(batch_loss, loss_limit());
    norm = std::min(norm, norm_limit());
    change += weight * (std::abs(batch_loss - loss) - change);
    loss += weight * (batch_loss - loss);
    grad_norm += weight * (norm - grad_norm);
    ++seen;
    return late;
  }

 private:
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
  }

  std::optional<fit_jump> judge(long step, int epoch, double batch_loss, double norm) const {
    fit_jump j;
    j.step = step;
    j.epoch = epoch;
    if (batch_loss > loss_limit()) {
      j.kind = fit_jump_kind::loss;
      j.value = batch_loss;
      j.typical = loss;
      j.message = message("step ", step, " (epoch ", epoch, "): the batch loss jumped to ", batch_loss, " from a typical ",
                          loss, " (changes of about ", change, " per step); outlying samples in this batch?");
    } else if (norm > norm_limit()) {
      j.kind = fit_jump_kind::gradient_norm;
      j.value = norm;
      j.typical = grad_norm;
      j.message = message("step ", step, " (epoch ", epoch, "): the gradient norm jumped to ", norm, " from a typical ",
                          grad_norm, " (", norm / grad_norm,
                          " times); outlying samples in this batch, or a learning rate too large?");
    } else {
      return std::nullopt;
    }
    return j;
  }
};

}  // namespace detail
}  // namespace flowtmpl
