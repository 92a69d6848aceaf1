// tests/fuzz/fuzz_safetensors_load.cpp: libFuzzer target of flowtmpl::load_bytes, the
// safetensors loader (io/safetensors/load.hpp, validating_reader.hpp), fed as a file
// that save_bytes wrote for fuzz_contract.hpp's LoadFlow (dimension 2, double; ActNorm,
// an affine and a spline coupling: vectors and matrices).
// Asserted for every input (flowtmpl_fuzz::check_load):
//   - load_bytes returns or throws flowtmpl::io_error ("flowtmpl: ..."), nothing else;
//   - when it throws, the flow's parameters are bitwise what they were;
//   - when it returns, every parameter is finite, and save_bytes of the loaded flow
//     loads back to the same parameters bitwise.
#include "fuzz_contract.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  flowtmpl_fuzz::check_load<flowtmpl_fuzz::LoadFlow>("safetensors_load", data, size, 7);
  return 0;
}
