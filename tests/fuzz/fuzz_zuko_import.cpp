// tests/fuzz/fuzz_zuko_import.cpp: libFuzzer target of flowtmpl::load_bytes fed as a
// file that tools/export/flowtmpl_export.py wrote from zuko.flows.NSF(3, transforms=2,
// hidden_features=(8, 8)) in float, loaded into the type the exporter names for it
// (fuzz_contract.hpp's ZukoNsfF32; seeds copied from
// tests/data/zuko_nsf_{random,trained}_f32.safetensors): metadata with the extra
// "cpp_type" key, MADE's networks, ZukoSpline's knots.
// Asserted for every input (flowtmpl_fuzz::check_load):
//   - load_bytes returns or throws flowtmpl::io_error ("flowtmpl: ..."), nothing else;
//   - when it throws, the flow's parameters are bitwise what they were;
//   - when it returns, every parameter is finite, and save_bytes of the loaded flow
//     loads back to the same parameters bitwise.
#include "fuzz_contract.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  flowtmpl_fuzz::check_load<flowtmpl_fuzz::ZukoNsfF32>("zuko_import", data, size, 11);
  return 0;
}
