// tests/fuzz/fuzz_contract.hpp: what every fuzz target asserts about a parser of
// untrusted input, and the flow types the targets and make_corpus.cpp share.
//
//   returns_or_io_error(target, call)  runs call(): true if it returned, false if it threw
//                                      flowtmpl::io_error with a message that starts
//                                      "flowtmpl: "; any other exception is a finding
//   finding(target, what)              reports a broken contract on stderr and aborts
//                                      (libFuzzer saves the input as a crash- file)
//   all_finite(values)                 whether every value is finite
//   parameters_of(flow)                its parameters, in walk order
//   check_load<Flow>(target, data, size, seed)  the contract of load_bytes: it returns or
//                                      throws io_error; when it throws, the flow (reset
//                                      with seed) is bitwise unchanged; when it returns,
//                                      every parameter is finite and save_bytes of the
//                                      loaded flow loads back to the same parameters
//   LoadFlow, ZukoNsfF32, CheckpointFlow  the flows fed to the safetensors, exporter and
//                                      checkpoint targets
#pragma once

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/error.hpp>
#include <flowtmpl/io/safetensors.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>
#include <vector>

namespace flowtmpl_fuzz {

// A safetensors file of this flow: vectors (ActNorm) and matrices (the networks), an
// affine and a spline coupling, dimension 2, double.
using LoadFlow = flowtmpl::bind_t<
    flowtmpl::Flow<flowtmpl::StandardNormal,
                   flowtmpl::compose<flowtmpl::ActNorm, flowtmpl::Coupling<flowtmpl::Affine, flowtmpl::MLP<8>>,
                                     flowtmpl::Coupling<flowtmpl::Spline<4>, flowtmpl::MLP<8>, flowtmpl::mask::half_flipped>>>,
    2, double>;

// The type tools/export/flowtmpl_export.py names for zuko.flows.NSF(3, transforms=2,
// hidden_features=(8, 8)) in float (tests/data/zuko_nsf_{random,trained}_f32.safetensors;
// the same text as NsfF32 in tests/unit/io/zuko_import_test.cpp).
using ZukoNsfF32 = flowtmpl::bind_t<
    flowtmpl::Flow<flowtmpl::StandardNormal,
                   flowtmpl::compose<flowtmpl::Permute<flowtmpl::Reverse>,
                                     flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>>>,
                                     flowtmpl::Permute<flowtmpl::Reverse>,
                                     flowtmpl::Inverse<flowtmpl::InverseAutoregressive<flowtmpl::ZukoSpline<8>, flowtmpl::MADE<8, 8>>>>>,
    3, float>;

// A checkpoint's flow: a two-layer RealNVP of dimension 2 in float (a checkpoint holds
// F64 values whatever the flow's scalar).
using CheckpointFlow = flowtmpl::bind_t<
    flowtmpl::Flow<flowtmpl::StandardNormal,
                   flowtmpl::compose<flowtmpl::Coupling<flowtmpl::Affine, flowtmpl::MLP<8>>,
                                     flowtmpl::Coupling<flowtmpl::Affine, flowtmpl::MLP<8>, flowtmpl::mask::half_flipped>>>,
    2, float>;

[[noreturn]] inline void finding(const char* target, const std::string& what) {
  std::fprintf(stderr, "\nflowtmpl fuzz %s: CONTRACT BROKEN: %s\n", target, what.c_str());
  std::fflush(stderr);
  std::abort();
}

template <class Call>
bool returns_or_io_error(const char* target, Call&& call) {
  try {
    call();
    return true;
  } catch (const flowtmpl::io_error& e) {
    const std::string m = e.what();
    if (m.rfind("flowtmpl: ", 0) != 0) finding(target, "io_error whose message does not start with \"flowtmpl: \": " + m);
    return false;
  } catch (const std::exception& e) {
    finding(target, std::string("threw ") + typeid(e).name() + " (not flowtmpl::io_error): " + e.what());
  } catch (...) {
    finding(target, "threw something that is not a std::exception");
  }
}

template <class S>
bool all_finite(const std::vector<S>& values) {
  for (const S v : values)
    if (!std::isfinite(v)) return false;
  return true;
}

template <class Flow>
std::vector<typename Flow::scalar_type> parameters_of(const Flow& f) {
  std::vector<typename Flow::scalar_type> v(flowtmpl::parameter_count_v<Flow>);
  flowtmpl::copy_parameters(f, v.data());
  return v;
}

template <class Flow>
void check_load(const char* target, const std::uint8_t* data, std::size_t size, std::uint64_t seed) {
  static const Flow start = [&] {
    Flow g;
    flowtmpl::reset_parameters(g, seed);
    return g;
  }();
  Flow f = start;
  const auto before = parameters_of(f);
  const bool loaded = returns_or_io_error(target, [&] { flowtmpl::load_bytes(f, data, size); });
  const auto after = parameters_of(f);
  if (!loaded) {
    if (after != before) finding(target, "load_bytes threw, but the flow's parameters changed");
    return;
  }
  if (!all_finite(after)) finding(target, "load_bytes returned a non-finite parameter");
  std::vector<std::uint8_t> saved;
  if (!returns_or_io_error(target, [&] { saved = flowtmpl::save_bytes(f); }))
    finding(target, "save_bytes refused a flow that load_bytes accepted");
  Flow again = start;
  if (!returns_or_io_error(target, [&] { flowtmpl::load_bytes(again, saved); }))
    finding(target, "load_bytes refused what save_bytes wrote of a loaded flow");
  if (parameters_of(again) != after) finding(target, "save_bytes then load_bytes of a loaded flow changed its parameters");
}

}  // namespace flowtmpl_fuzz
