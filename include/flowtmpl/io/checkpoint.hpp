// flowtmpl/io/checkpoint.hpp: a training run's state (fit_state, training/fit_state.hpp)
// in a file, to resume the run after it stopped. Needs nlohmann-json (the flowtmpl::io
// target), as io/safetensors.hpp.
//   save_checkpoint(flow, state, path)       writes path + ".tmp", then renames it to
//                                            path: a run killed while writing leaves
//                                            the previous checkpoint whole
//   load_checkpoint(flow, path) -> fit_state what fit resumes from (options.resume);
//                                            flow is not changed (fit assigns the state's
//                                            parameters when it starts)
//   load_checkpoint_bytes(flow, bytes, what) the same from memory (`what` names it)
// The file is a safetensors file of dtype F64 (exact for a float flow too) whose spec
// is "fit checkpoint of <spec_text of the flow>": the tensors "parameters",
// "best_parameters", "adam.first_moment", "adam.second_moment", "sgd.momentum_buffer"
// (one value per parameter each, zeros where unused), the counters and loss histories
// in "__metadata__" as decimal integers and hexadecimal floating-point text (exact).
// load_checkpoint validates it as load does (io/safetensors/validating_reader.hpp) and
// refuses, in one sentence naming the file, a checkpoint of another flow type, a plain
// parameter file, and metadata that is missing or not a number. fit then refuses a
// state from a run with other data or options (detail::check_resume).
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../parameters.hpp"
#include "../training/fit_state.hpp"
#include "read_file.hpp"
#include "safetensors.hpp"

namespace flowtmpl {
namespace detail::io {

template <class Flow>
std::string checkpoint_spec() {
  return message("fit checkpoint of ", flowtmpl::spec_text<Flow>());
}
inline constexpr const char* checkpoint_tensors[] = {"parameters", "best_parameters", "adam.first_moment",
                                                     "adam.second_moment", "sgd.momentum_buffer"};

inline std::string hex_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}
inline std::string hex_list(const std::vector<double>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {  // (appending: g++ 12 -O3 warns falsely on "," + string)
    if (i) out.push_back(',');
    out.append(hex_text(v[i]));
  }
  return out;
}

class checkpoint_metadata {
 public:
  checkpoint_metadata(const nlohmann::json& meta, const std::string& where) : meta_(meta), where_(where) {}
  std::uint64_t count(const char* key) const {
    const std::string& t = text(key);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = t.empty() || t[0] == '-' ? 0 : std::strtoull(t.c_str(), &end, 10);
    if (t.empty() || t[0] == '-' || errno != 0 || end != t.c_str() + t.size())
      bad(key, t, "a non-negative decimal integer");
    return std::uint64_t(v);
  }
  std::vector<double> values(const char* key) const {
    std::vector<double> out;
    const std::string& t = text(key);
    std::size_t at = 0;
    while (at < t.size()) {
      std::size_t comma = t.find(',', at);
      if (comma == std::string::npos) comma = t.size();
      out.push_back(number(key, t.substr(at, comma - at)));
      at = comma + 1;
      if (comma + 1 == t.size()) bad(key, t, "a comma-separated list of finite numbers");
    }
    return out;
  }
  double value(const char* key) const { return number(key, text(key)); }

 private:
  const nlohmann::json& meta_;
  std::string where_;
  const std::string& text(const char* key) const {
    const auto e = meta_.find(key);
    if (e == meta_.end())
      throw io_error(message("flowtmpl: load_checkpoint ", where_, ": \"__metadata__\" has no ", json_quoted(key),
                             " (not a checkpoint that save_checkpoint wrote)"));
    return e->get_ref<const std::string&>();
  }
  double number(const char* key, const std::string& t) const {
    char* end = nullptr;
    const double v = t.empty() ? 0.0 : std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(v)) bad(key, t, "finite numbers");
    return v;
  }
  [[noreturn]] void bad(const char* key, const std::string& t, const char* expected) const {
    throw io_error(message("flowtmpl: load_checkpoint ", where_, ": \"__metadata__\" entry ", json_quoted(key), " is ",
                           json_quoted(t.substr(0, 60)), ", expected ", expected));
  }
};

}  // namespace detail::io

template <class Flow>
  requires detail::io::saveable<Flow>
void save_checkpoint(const Flow& flow, const fit_state& s, const std::string& path) {
  (void)flow;
  using json = nlohmann::ordered_json;
  namespace io = detail::io;
  constexpr std::size_t NP = parameter_count_v<Flow>;
  if (s.parameters.size() != NP)
    throw io_error(detail::message("flowtmpl: save_checkpoint ", path, ": the state holds ", s.parameters.size(),
                                   " parameters, the flow has ", NP, " (a state of another flow)"));
  const std::vector<double> none(NP, 0.0);
  const std::vector<double>* tensors[] = {&s.parameters, s.best_epoch > 0 ? &s.best_parameters : &none,
                                          s.first_moment.empty() ? &none : &s.first_moment,
                                          s.first_moment.empty() ? &none : &s.second_moment,
                                          s.momentum_buffer.empty() ? &none : &s.momentum_buffer};
  json h = json::object();
  json meta = json::object();
  meta["format"] = io::format_name;
  meta["format_version"] = io::format_version;
  meta["spec"] = io::checkpoint_spec<Flow>();
  meta["dtype"] = "F64";
  auto count = [&](const char* key, std::uint64_t v) { meta[key] = std::to_string(v); };
  count("train_count", s.train_count);
  count("valid_count", s.valid_count);
  count("batch_size", s.batch_size);
  count("seed", s.seed);
  count("optimizer", s.optimizer == optimizer_kind::adam ? 0 : 1);
  count("step", std::uint64_t(s.step));
  count("epoch", std::uint64_t(s.epoch));
  count("position", s.position);
  meta["epoch_loss"] = io::hex_text(s.epoch_loss);
  count("epoch_batches", std::uint64_t(s.epoch_batches));
  meta["train_loss"] = io::hex_list(s.train_loss);
  meta["valid_loss"] = io::hex_list(s.valid_loss);
  count("best_epoch", std::uint64_t(s.best_epoch));
  meta["best_valid_loss"] = io::hex_text(s.best_valid_loss);
  count("since_best", std::uint64_t(s.since_best));
  count("adam_steps", s.first_moment.empty() ? 0 : std::uint64_t(s.adam_steps));
  count("momentum_started", s.momentum_buffer.empty() ? 0 : std::uint64_t(s.momentum_started));
  count("jump_seen", std::uint64_t(s.jump_seen));
  meta["jump_loss"] = io::hex_text(s.jump_loss);
  meta["jump_change"] = io::hex_text(s.jump_change);
  meta["jump_grad_norm"] = io::hex_text(s.jump_grad_norm);
  meta["jump_warmup_loss"] = io::hex_list(s.jump_warmup_loss);
  meta["jump_warmup_norm"] = io::hex_list(s.jump_warmup_norm);
  count("jump_count", std::uint64_t(s.jump_count));
  h["__metadata__"] = std::move(meta);
  std::uint64_t offset = 0;
  for (std::size_t t = 0; t < 5; ++t) {
    if (tensors[t]->size() != NP)
      throw io_error(detail::message("flowtmpl: save_checkpoint ", path, ": the state's ", io::checkpoint_tensors[t],
                                     " has ", tensors[t]->size(), " values, the flow has ", NP, " parameters"));
    for (std::size_t i = 0; i < NP; ++i)
      if (!std::isfinite((*tensors[t])[i]))
        throw io_error(detail::message("flowtmpl: save_checkpoint ", path, ": ", io::checkpoint_tensors[t], '[', i, "] is ",
                                       (*tensors[t])[i], "; a checkpoint holds finite values only"));
    json e = json::object();
    e["dtype"] = "F64";
    e["shape"] = json::array({NP});
    e["data_offsets"] = json::array({offset, offset + std::uint64_t(NP) * 8});
    h[io::checkpoint_tensors[t]] = std::move(e);
    offset += std::uint64_t(NP) * 8;
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<std::uint8_t> out;
  out.reserve(8 + header.size() + std::size_t(offset));
  io::put_le(out, std::uint64_t(header.size()));
  out.insert(out.end(), header.begin(), header.end());
  for (const auto* t : tensors)
    for (const double v : *t) io::put_le(out, v);
  const std::string tmp = path + ".tmp";
  io::write_file(tmp, out, "save_checkpoint");
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw io_error(detail::message("flowtmpl: save_checkpoint ", path, ": renaming ", tmp, " to it failed (",
                                   std::strerror(errno), ")"));
}

namespace detail::io {

// The tensors of a checkpoint of Flow and the bounds of its header: the loss histories
// grow with the epochs, so its length may reach safetensors's own limit; its items are
// bounded as a parameter file's.
template <class Flow>
std::vector<tensor_slot> checkpoint_slots() {
  std::vector<tensor_slot> slots;
  for (const char* name : checkpoint_tensors) slots.push_back(tensor_slot{name, parameter_count_v<Flow>, 0});
  return slots;
}
template <class Flow>
header_bounds checkpoint_bounds() {
  header_bounds b = header_bounds_for(checkpoint_slots<Flow>(), checkpoint_spec<Flow>());
  b.max_length = max_header_length;
  return b;
}

template <class Flow>
fit_state read_checkpoint(const std::uint8_t* data, std::size_t size, const std::string& where) {
  constexpr std::size_t NP = parameter_count_v<Flow>;
  std::vector<tensor_slot> slots = checkpoint_slots<Flow>();
  const std::vector<double> v = loader("load_checkpoint", where).read<double>(slots, checkpoint_spec<Flow>(), data, size, checkpoint_bounds<Flow>());
  // the header is valid JSON of bounded structure with string metadata (checked by read)
  const std::uint64_t n = get_le<std::uint64_t>(data);
  const nlohmann::json h = nlohmann::json::parse(data + 8, data + 8 + n);
  const checkpoint_metadata m(h.at("__metadata__"), where);
  fit_state s;
  auto part = [&](std::size_t t) { return std::vector<double>(v.begin() + std::ptrdiff_t(t * NP), v.begin() + std::ptrdiff_t((t + 1) * NP)); };
  s.train_count = m.count("train_count");
  s.valid_count = m.count("valid_count");
  s.batch_size = m.count("batch_size");
  s.seed = m.count("seed");
  s.optimizer = m.count("optimizer") == 0 ? optimizer_kind::adam : optimizer_kind::sgd;
  s.step = long(m.count("step"));
  s.epoch = int(m.count("epoch"));
  s.position = m.count("position");
  s.epoch_loss = m.value("epoch_loss");
  s.epoch_batches = long(m.count("epoch_batches"));
  s.train_loss = m.values("train_loss");
  s.valid_loss = m.values("valid_loss");
  s.best_epoch = int(m.count("best_epoch"));
  s.best_valid_loss = m.value("best_valid_loss");
  s.since_best = int(m.count("since_best"));
  s.parameters = part(0);
  if (s.best_epoch > 0) s.best_parameters = part(1);
  s.adam_steps = long(m.count("adam_steps"));
  if (s.adam_steps > 0) {
    s.first_moment = part(2);
    s.second_moment = part(3);
  }
  s.momentum_started = m.count("momentum_started") != 0;
  if (s.momentum_started) s.momentum_buffer = part(4);
  s.jump_seen = long(m.count("jump_seen"));
  s.jump_loss = m.value("jump_loss");
  s.jump_change = m.value("jump_change");
  s.jump_grad_norm = m.value("jump_grad_norm");
  s.jump_warmup_loss = m.values("jump_warmup_loss");
  s.jump_warmup_norm = m.values("jump_warmup_norm");
  s.jump_count = long(m.count("jump_count"));
  return s;
}

}  // namespace detail::io

template <class Flow>
  requires detail::io::saveable<Flow>
fit_state load_checkpoint(const Flow& flow, const std::string& path) {
  (void)flow;
  namespace io = detail::io;
  const std::vector<std::uint8_t> bytes = detail::read_whole_file(
      path, "load_checkpoint", io::max_file_size<double>(io::checkpoint_slots<Flow>(), io::checkpoint_bounds<Flow>()),
      "that a checkpoint of this flow may have (not a checkpoint of this flow?)",
      [&](const std::vector<std::uint8_t>& start) {
        io::loader("load_checkpoint", path).check_start(start.data(), start.size(), io::checkpoint_bounds<Flow>());
      });
  return io::read_checkpoint<Flow>(bytes.data(), bytes.size(), path);
}

// The same from memory; `what` names the input in messages ("flowtmpl: load_checkpoint
// <what>: ...").
template <class Flow>
  requires detail::io::saveable<Flow>
fit_state load_checkpoint_bytes(const Flow& flow, std::span<const std::uint8_t> bytes, const std::string& what) {
  (void)flow;
  return detail::io::read_checkpoint<Flow>(bytes.data(), bytes.size(), what);
}

}  // namespace flowtmpl
