// flowtmpl/io/error.hpp: io_error, what the readers and writers of files throw (the
// safetensors save and load, the IDX reader): an I/O failure naming the path, or an
// invalid input, in one sentence naming the function.
#pragma once

#include <stdexcept>

namespace flowtmpl {

struct io_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace flowtmpl
