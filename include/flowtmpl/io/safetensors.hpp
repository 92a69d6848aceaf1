// flowtmpl/io/safetensors.hpp: saving and loading the trained parameters of a bound flow
// as a safetensors file (https://github.com/huggingface/safetensors). Not included by
// flowtmpl.hpp: it needs nlohmann-json (<nlohmann/json.hpp>). This header includes its
// parts, under flowtmpl/io/safetensors/.
//
//   spec_text<Flow>()          the canonical text of the bound type, e.g.
//                              "Flow<DiagonalNormal, Chain<ActNorm, Coupling<Spline[K=4,
//                              B=3,P=11,...], MLP<8>[1->22](act=relu), mask=011>>> dim=3
//                              scalar=double"; built from the types' names and static
//                              shapes only, so it is the same for every compiler
//   save_bytes(f)              the file as bytes
//   load_bytes(f, data, size)  (or a std::span) reads a file into f
//   save(f, path), load(f, path)
//
// Flow is anything flowtmpl::for_each_parameter_tensor walks: a bound Bijector or
// ConditionalBijector, a distribution, a flow distribution (bind_t<Flow<Base, Spec>,
// D, S>). Only trained parameters are saved; fixed settings (a permutation, LUConv's P
// and signs, a LeakyReLU's slope, a Uniform's box) are not, and a loaded flow keeps its
// own. The type-level ones (Permute's order, LUConv's diagonal scheme) are part of the
// spec text and therefore checked.
//
// File: 8 bytes, the little-endian length N of the header; N bytes of JSON (padded
// with spaces so that the data starts at a multiple of 8); the data. The JSON is
//   {"__metadata__":{"format":"flowtmpl","format_version":"1","spec":"<spec_text>",
//                    "dtype":"F32"|"F64"},
//    "<name>":{"dtype":"F32"|"F64","shape":[rows] or [rows,cols],
//              "data_offsets":[begin,end]}, ...}
// with the tensors in the order of for_each_parameter_tensor, contiguous, each its
// values in little-endian order (matrices row-major, [out][in] for network weights).
// Written deterministically: save -> load -> save gives the same bytes. save refuses a
// flow with a non-finite parameter (load would refuse the file).
//
// load validates everything before it changes f (the input is untrusted; on failure f
// is unchanged and io_error says what and where, "flowtmpl: load <path or bytes>: ...").
// Checked: the length, the JSON (an object, no duplicate keys), the metadata (format,
// version, dtype, spec == spec_text<Flow>()), every tensor (present, no others, dtype
// the flow's scalar with no conversion, shape, data_offsets two non-negative integers
// inside the data section holding exactly shape x dtype size bytes), that the tensors
// tile the data section (no overlap, no gap, nothing after them), and that every value
// is finite.
//
// Parts:
//   io/safetensors/format.hpp              io_error, the format's constants, bytes, messages
//   io/safetensors/spec_text.hpp           spec_text<Flow>()
//   io/safetensors/validating_reader.hpp   the checks of load, and reading the values
//   io/safetensors/save.hpp                save_bytes, save
//   io/safetensors/load.hpp                load_bytes, load
#pragma once

#include "safetensors/format.hpp"
#include "safetensors/load.hpp"
#include "safetensors/save.hpp"
#include "safetensors/spec_text.hpp"
#include "safetensors/validating_reader.hpp"
