// flowtmpl/training/fit_state.hpp: what fit takes and gives (fit_options, fit_result),
// and where a run is between two steps (fit_state): enough to continue it bitwise.
//
// A run is checkpointed by options.on_checkpoint, called every options.checkpoint_every
// optimizer steps with the state after that step; fit continues from a state given as
// options.resume, and then reaches the same parameters, bitwise, as the run that was not
// interrupted (the state holds the parameters, the optimizer's moments, the best
// validation epoch's parameters, the position in the epoch's shuffled order and the
// loss histories; the order itself is replayed from the seed). save_checkpoint /
// load_checkpoint (io/checkpoint.hpp) keep a state in a file. A state resumes only a
// run of the same flow type, data size, batch size, seed and optimizer: fit refuses
// another in one sentence.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "../detail/eigen.hpp"
#include "../errors.hpp"
#include "jump_detector.hpp"
#include "progress.hpp"

namespace flowtmpl {

enum class optimizer_kind { adam, sgd };

struct fit_state;

struct fit_options {
  int epochs = 100;
  Eigen::Index batch_size = 256;
  long max_steps = 0;               // > 0: stop after this many optimizer steps
  std::uint64_t seed = 0;           // shuffling
  optimizer_kind optimizer = optimizer_kind::adam;
  double learning_rate = 1e-3;
  std::function<double(long)> schedule;  // learning rate at a step; empty: learning_rate
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;  // adam
  double momentum = 0.9;                                            // sgd
  bool nesterov = false;
  double clip_norm = 0;             // > 0: global-norm clipping
  int patience = 0;                 // > 0: early stopping on the validation loss
  bool initialize_actnorm = true;   // flowtmpl::initialize from the first batch
  std::function<void(const fit_progress&)> on_progress;  // empty: a line on stderr per epoch
  bool quiet = false;               // no progress line at all
  long checkpoint_every = 0;        // > 0: on_checkpoint after every this many steps
  std::function<void(const fit_state&)> on_checkpoint;
  const fit_state* resume = nullptr;  // continue the run this state was taken from
  // steps whose batch loss or gradient norm jumps by orders of magnitude
  // (training/jump_detector.hpp): reported to on_jump (empty: the first 5 as lines on
  // stderr, unless quiet) and counted in fit_progress::jumps and fit_result
  double jump_factor = 1e3;         // 0: no detection
  bool skip_jumps = false;          // a jumping step's update is not applied
  std::function<void(const fit_jump&)> on_jump;
};

enum class fit_stop { completed, early_stopping, non_finite };

struct fit_result {
  std::vector<double> train_loss, valid_loss;  // per epoch
  int best_epoch = 0;                          // 1-based; 0 without validation
  double best_valid_loss = std::numeric_limits<double>::quiet_NaN();
  long steps = 0;
  fit_stop stop = fit_stop::completed;
  std::string message;  // why training stopped early
  double seconds = 0;
  long jump_count = 0;          // steps whose loss or gradient norm jumped (options.jump_factor)
  std::vector<fit_jump> jumps;  // the first max_recorded_jumps of them
  static constexpr std::size_t max_recorded_jumps = 100;
};

// A run between two steps. Scalars of any flow are held as doubles (exact for float).
struct fit_state {
  // the run it belongs to
  std::uint64_t train_count = 0, valid_count = 0;
  std::uint64_t batch_size = 0, seed = 0;
  optimizer_kind optimizer = optimizer_kind::adam;
  // where it is
  long step = 0;                 // optimizer steps done
  int epoch = 0;                 // 0-based epoch the next step belongs to
  std::uint64_t position = 0;    // first column of the next batch in that epoch's order
  double epoch_loss = 0;         // sum of the batch losses of that epoch so far
  long epoch_batches = 0;
  std::vector<double> train_loss, valid_loss;  // finished epochs
  int best_epoch = 0;            // 0: none yet
  double best_valid_loss = 0;    // meaningful when best_epoch > 0
  int since_best = 0;
  // values
  std::vector<double> parameters, best_parameters;  // best: empty when best_epoch == 0
  std::vector<double> first_moment, second_moment;  // adam (empty before its first step)
  long adam_steps = 0;
  std::vector<double> momentum_buffer;              // sgd (empty before its first step)
  bool momentum_started = false;
  // the jump detector's averages (training/jump_detector.hpp) and the jumps so far
  long jump_seen = 0;
  double jump_loss = 0, jump_change = 0, jump_grad_norm = 0;
  std::vector<double> jump_warmup_loss, jump_warmup_norm;  // the warm-up's steps so far
  long jump_count = 0;
};

namespace detail {

// Throws shape_error (fit: ...) unless state continues a run with this data and these
// options, for a flow of parameter_count scalars.
inline void check_resume(const fit_state& s, std::uint64_t train_count, std::uint64_t valid_count,
                         const fit_options& opt, std::size_t parameter_count) {
  auto differs = [](const char* what, auto was, auto is) {
    fail_shape(message("fit: the state to resume from was taken from a run with ", what, ' ', was, ", this call has ", is,
                       "; a run resumes only with the data and options it started with"));
  };
  if (s.parameters.size() != parameter_count)
    differs("a flow of parameter count", s.parameters.size(), parameter_count);
  if (s.train_count != train_count) differs("training sample count", s.train_count, train_count);
  if (s.valid_count != valid_count) differs("validation sample count", s.valid_count, valid_count);
  if (s.batch_size != std::uint64_t(opt.batch_size)) differs("batch_size", s.batch_size, opt.batch_size);
  if (s.seed != opt.seed) differs("seed", s.seed, opt.seed);
  if (s.optimizer != opt.optimizer)
    differs("optimizer", s.optimizer == optimizer_kind::adam ? "adam" : "sgd",
            opt.optimizer == optimizer_kind::adam ? "adam" : "sgd");
  const bool sizes_ok = s.position <= train_count && s.train_loss.size() == std::size_t(s.epoch) &&
                        s.valid_loss.size() <= s.train_loss.size() && s.best_epoch >= 0 &&
                        s.best_epoch <= s.epoch && (s.best_epoch == 0 || s.best_parameters.size() == parameter_count) &&
                        (s.first_moment.empty() || (s.first_moment.size() == parameter_count &&
                                                    s.second_moment.size() == parameter_count)) &&
                        (s.momentum_buffer.empty() || s.momentum_buffer.size() == parameter_count) && s.step >= 0;
  const bool jumps_ok = s.jump_seen >= 0 && s.jump_count >= 0 && std::isfinite(s.jump_loss) &&
                        std::isfinite(s.jump_change) && s.jump_change >= 0 && std::isfinite(s.jump_grad_norm) &&
                        s.jump_grad_norm >= 0 && s.jump_warmup_loss.size() == s.jump_warmup_norm.size() &&
                        s.jump_warmup_loss.size() <= std::size_t(s.jump_seen);
  if (!sizes_ok || !jumps_ok)
    fail_shape("fit: the state to resume from is inconsistent (its sizes and counters disagree)");
}

}  // namespace detail
}  // namespace flowtmpl
