// Checkpoints of fit (training/fit_state.hpp, io/checkpoint.hpp): a run resumed from a
// checkpoint file reaches the uninterrupted run's parameters bitwise; refusals in words.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/checkpoint.hpp>
#include <flowtmpl/training.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace checkpoint_test {

namespace ft = flowtmpl;

namespace {
using Small = ft::MLP<8, 8>;
using Spec = ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::Coupling<ft::Spline<4>, Small>,
                                                      ft::Coupling<ft::Affine, Small, ft::mask::half_flipped>>>;

template <class S>
Eigen::Matrix<S, 3, Eigen::Dynamic> data(Eigen::Index n, std::uint64_t seed) {
  Eigen::Matrix<S, 3, Eigen::Dynamic> x(3, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(seed, std::uint64_t(j));
    const S a = rng.normal<S>();
    x.col(j) << a, S(0.5) * a * a + S(0.3) * rng.normal<S>(), S(2) + rng.normal<S>();
  }
  return x;
}

template <class F>
std::vector<typename F::scalar_type> flat(const F& f) {
  std::vector<typename F::scalar_type> v(ft::parameter_count_v<F>);
  ft::copy_parameters(f, v.data());
  return v;
}

std::string temp_path(const char* name) { return (std::filesystem::temp_directory_path() / name).string(); }

template <class S>
void resume_matches_uninterrupted(ft::optimizer_kind kind, long stop_at, int patience) {
  using F = ft::bind_t<Spec, 3, S>;
  const auto train = data<S>(300, 1);
  const auto valid = data<S>(90, 2);
  ft::fit_options opt;
  opt.epochs = 4;
  opt.batch_size = 64;  // 5 steps per epoch, the last of 44 columns
  opt.seed = 9;
  opt.optimizer = kind;
  opt.learning_rate = kind == ft::optimizer_kind::adam ? 3e-3 : 1e-2;
  opt.patience = patience;
  opt.quiet = true;
  F start;
  ft::reset_parameters(start, 3);

  F whole = start;
  const auto r_whole = ft::fit(whole, train, valid, opt);
  REQUIRE(r_whole.steps == 20);

  // the interrupted run: a checkpoint file at step stop_at, then it ends
  const std::string path = temp_path("flowtmpl_checkpoint_test.safetensors");
  F first = start;
  ft::fit_options o1 = opt;
  o1.max_steps = stop_at;
  o1.checkpoint_every = stop_at;
  int saved = 0;
  o1.on_checkpoint = [&](const ft::fit_state& s) {
    ft::save_checkpoint(first, s, path);
    ++saved;
  };
  (void)ft::fit(first, train, valid, o1);
  REQUIRE(saved == 1);

  F resumed;  // another process: its own initial values, overwritten by the state
  ft::reset_parameters(resumed, 77);
  const ft::fit_state s = ft::load_checkpoint(resumed, path);
  CHECK(s.step == stop_at);
  ft::fit_options o2 = opt;
  o2.resume = &s;
  const auto r = ft::fit(resumed, train, valid, o2);
  std::remove(path.c_str());
  CHECK(r.steps == r_whole.steps);
  CHECK(r.train_loss == r_whole.train_loss);
  CHECK(r.valid_loss == r_whole.valid_loss);
  CHECK(r.best_epoch == r_whole.best_epoch);
  CHECK(flat(resumed) == flat(whole));  // bitwise
  CHECK(flat(resumed) != flat(start));
}
}  // namespace

TEST_CASE("checkpoint: resuming mid-epoch reaches the uninterrupted run's parameters bitwise (adam)", "[checkpoint]") {
  resume_matches_uninterrupted<float>(ft::optimizer_kind::adam, 7, 0);
  resume_matches_uninterrupted<double>(ft::optimizer_kind::adam, 12, 0);
}

TEST_CASE("checkpoint: resuming at an epoch's end (validation due) and with sgd momentum", "[checkpoint]") {
  resume_matches_uninterrupted<double>(ft::optimizer_kind::sgd, 10, 0);  // step 10 ends epoch 2
  resume_matches_uninterrupted<float>(ft::optimizer_kind::sgd, 3, 0);
  resume_matches_uninterrupted<double>(ft::optimizer_kind::adam, 15, 1);  // with a best epoch to restore
}

TEST_CASE("checkpoint: the state in memory resumes too, every checkpoint of a run alike", "[checkpoint]") {
  using F = ft::bind_t<Spec, 3, double>;
  const auto train = data<double>(200, 4);
  ft::fit_options opt;
  opt.epochs = 2;
  opt.batch_size = 50;
  opt.quiet = true;
  F start;
  ft::reset_parameters(start, 5);
  F whole = start;
  std::vector<ft::fit_state> states;
  ft::fit_options o = opt;
  o.checkpoint_every = 3;
  o.on_checkpoint = [&](const ft::fit_state& s) { states.push_back(s); };
  (void)ft::fit(whole, train, o);
  REQUIRE(states.size() == 2);  // steps 3 and 6 of 8
  for (const auto& s : states) {
    F g;
    ft::fit_options r = opt;
    r.resume = &s;
    (void)ft::fit(g, train, r);
    CHECK(flat(g) == flat(whole));
  }
}

namespace {
// A short run of F on train (batches of 25) for `epochs`; the state of its last
// checkpoint (every `every` steps).
template <class F>
ft::fit_state last_checkpoint(F& f, const Eigen::Matrix<double, 3, Eigen::Dynamic>& train, int epochs, long every) {
  ft::fit_options opt;
  opt.epochs = epochs;
  opt.batch_size = 25;
  opt.quiet = true;
  opt.checkpoint_every = every;
  ft::fit_state state;
  opt.on_checkpoint = [&](const ft::fit_state& s) { state = s; };
  ft::reset_parameters(f, 1);
  (void)ft::fit(f, train, opt);
  return state;
}
}  // namespace

TEST_CASE("checkpoint: refusals name what differs", "[checkpoint]") {
  using F = ft::bind_t<Spec, 3, double>;
  const auto train = data<double>(100, 6);
  F f;
  const ft::fit_state state = last_checkpoint(f, train, 1, 2);

  ft::fit_options o;
  o.quiet = true;
  o.batch_size = 32;
  o.resume = &state;
  CHECK_THROWS_WITH(ft::fit(f, train, o), Catch::Contains("fit: the state to resume from was taken from a run with "
                                                          "batch_size 25, this call has 32"));
  o.batch_size = 25;
  CHECK_THROWS_WITH(ft::fit(f, data<double>(90, 6), o),
                    Catch::Contains("training sample count 100, this call has 90"));
  o.seed = 4;
  CHECK_THROWS_WITH(ft::fit(f, train, o), Catch::Contains("seed 0, this call has 4"));
  ft::fit_options no_keeper;
  no_keeper.checkpoint_every = 5;
  CHECK_THROWS_WITH(ft::fit(f, train, no_keeper), Catch::Contains("checkpoint_every is set but on_checkpoint is empty"));

  // files: a plain parameter file, another flow's checkpoint, a damaged counter
  const std::string params = temp_path("flowtmpl_checkpoint_params.safetensors");
  ft::save(f, params);
  CHECK_THROWS_WITH(ft::load_checkpoint(f, params), Catch::Contains("saved from another flow") &&
                                                        Catch::Contains("flow: fit checkpoint of"));
  std::remove(params.c_str());
  const std::string ck = temp_path("flowtmpl_checkpoint_other.safetensors");
  ft::save_checkpoint(f, state, ck);
  using G = ft::bind_t<ft::Flow<ft::DiagonalNormal, ft::compose<ft::ActNorm, ft::Coupling<ft::Affine, Small>>>, 3, double>;
  G g;
  CHECK_THROWS_WITH(ft::load_checkpoint(g, ck), Catch::Contains("flowtmpl: load_checkpoint " + ck) && Catch::Contains("another flow"));
  {
    std::ifstream in(ck, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = bytes.find("\"position\":\"");
    REQUIRE(at != std::string::npos);
    bytes[at + 12] = 'x';
    std::ofstream(ck, std::ios::binary) << bytes;
  }
  CHECK_THROWS_WITH(ft::load_checkpoint(f, ck), Catch::Contains("entry \"position\" is") &&
                                                    Catch::Contains("expected a non-negative decimal integer"));
  std::remove(ck.c_str());
  CHECK_THROWS_WITH(ft::load_checkpoint(f, ck), Catch::Contains("load_checkpoint " + ck));
}

TEST_CASE("checkpoint: from memory as from the file; a hostile file refused from its first chunk", "[checkpoint]") {
  using F = ft::bind_t<Spec, 3, double>;
  const auto train = data<double>(100, 6);
  F f;
  const ft::fit_state state = last_checkpoint(f, train, 2, 6);
  REQUIRE(state.step == 6);
  const std::string ck = temp_path("flowtmpl_checkpoint_bytes.safetensors");
  ft::save_checkpoint(f, state, ck);
  std::vector<std::uint8_t> bytes;
  {
    std::ifstream in(ck, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const ft::fit_state a = ft::load_checkpoint(f, ck), b = ft::load_checkpoint_bytes(f, bytes, "memory");
  CHECK(a.step == 6);
  CHECK(b.step == a.step);
  CHECK(b.position == a.position);
  CHECK(b.parameters == a.parameters);
  CHECK(b.first_moment == a.first_moment);
  CHECK(b.train_loss == a.train_loss);
  // a damaged copy in memory: the message names the function and the input
  std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + 100);
  CHECK_THROWS_WITH(ft::load_checkpoint_bytes(f, cut, "memory"),
                    Catch::StartsWith("flowtmpl: load_checkpoint memory: the header length is"));
  // a header length of 30 MB (within safetensors's 100 MB, which a checkpoint's loss
  // histories may need) and brackets: refused at the fourth bracket, from the first
  // chunk of the file, before the rest is read (the rest: a sparse file's zeros)
  const std::uint64_t n = 30'000'000;
  std::string hostile(8, '\0');
  for (int k = 0; k < 8; ++k) hostile[std::size_t(k)] = char(std::uint8_t(n >> (8 * k)));
  hostile.append(4096, '[');
  std::ofstream(ck, std::ios::binary) << hostile;
  std::filesystem::resize_file(ck, 8 + n + 8 * 5 * ft::parameter_count_v<F>);
  CHECK_THROWS_WITH(ft::load_checkpoint(f, ck), Catch::StartsWith("flowtmpl: load_checkpoint " + ck + ": the header nests "
                                                                  "arrays and objects more than 3 deep at byte 11 of the file"));
  // a file larger than any checkpoint of this flow: refused by its size
  std::filesystem::resize_file(ck, 8 + 100'000'000 + 8 * 5 * ft::parameter_count_v<F> + 1);
  CHECK_THROWS_WITH(ft::load_checkpoint(f, ck), Catch::Contains("bytes that a checkpoint of this flow may have"));
  std::remove(ck.c_str());
}

}  // namespace checkpoint_test
