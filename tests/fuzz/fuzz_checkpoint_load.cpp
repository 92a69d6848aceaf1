// tests/fuzz/fuzz_checkpoint_load.cpp: libFuzzer target of flowtmpl::load_checkpoint_bytes
// (io/checkpoint.hpp), fed as a checkpoint that save_checkpoint wrote for
// fuzz_contract.hpp's CheckpointFlow (a two-layer RealNVP, dimension 2, float).
// Asserted for every input:
//   - load_checkpoint_bytes returns or throws flowtmpl::io_error ("flowtmpl: ..."),
//     nothing else;
//   - a state it returns holds one finite value per parameter of the flow in
//     parameters; best_parameters, first_moment and second_moment, momentum_buffer the
//     same where the state says they are used (best_epoch > 0, adam_steps > 0,
//     momentum_started) and empty otherwise; finite losses (epoch_loss, the histories,
//     best_valid_loss).
#include <flowtmpl/io/checkpoint.hpp>

#include "fuzz_contract.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace {

using Flow = flowtmpl_fuzz::CheckpointFlow;
constexpr const char* target = "checkpoint_load";

void check_part(const std::vector<double>& v, bool used, const char* name) {
  const std::size_t expected = used ? flowtmpl::parameter_count_v<Flow> : 0;
  if (v.size() != expected)
    flowtmpl_fuzz::finding(target, std::string("load_checkpoint_bytes returned a state whose ") + name + " has " +
                                       std::to_string(v.size()) + " values, expected " + std::to_string(expected));
  if (!flowtmpl_fuzz::all_finite(v))
    flowtmpl_fuzz::finding(target, std::string("load_checkpoint_bytes returned a non-finite value in ") + name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Flow flow{};
  flowtmpl::fit_state s;
  const bool loaded = flowtmpl_fuzz::returns_or_io_error(target, [&] {
    s = flowtmpl::load_checkpoint_bytes(flow, std::span<const std::uint8_t>(data, size), std::string("fuzz input"));
  });
  if (!loaded) return 0;
  check_part(s.parameters, true, "parameters");
  check_part(s.best_parameters, s.best_epoch > 0, "best_parameters");
  check_part(s.first_moment, s.adam_steps > 0, "first_moment");
  check_part(s.second_moment, s.adam_steps > 0, "second_moment");
  check_part(s.momentum_buffer, s.momentum_started, "momentum_buffer");
  if (!flowtmpl_fuzz::all_finite(s.train_loss) || !flowtmpl_fuzz::all_finite(s.valid_loss) ||
      !std::isfinite(s.epoch_loss) || !std::isfinite(s.best_valid_loss))
    flowtmpl_fuzz::finding(target, "load_checkpoint_bytes returned a non-finite loss");
  return 0;
}
