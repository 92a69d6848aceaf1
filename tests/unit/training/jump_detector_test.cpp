// flowtmpl/training/jump_detector.hpp and fit's use of it: a step whose batch loss or
// gradient norm jumps by orders of magnitude is reported (on_jump, the progress line,
// fit_result), optionally skipped, and resumed runs decide as uninterrupted ones; fit's
// options outside their domain are refused in one sentence.
#include <catch2/catch.hpp>

#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/io/checkpoint.hpp>
#include <flowtmpl/training.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace jump_detector_test {

namespace ft = flowtmpl;
using Catch::Contains;

namespace {
using Data = Eigen::Matrix<double, 2, Eigen::Dynamic>;
using Net = ft::MLP<8, 8>;
using Spec = ft::Flow<ft::DiagonalNormal, ft::compose<ft::Coupling<ft::Affine, Net>, ft::Coupling<ft::Affine, Net, ft::mask::half_flipped>>>;
using F = ft::bind_t<Spec, 2, double>;

// n samples of a correlated Gaussian; the columns in `outliers` set to (1e30, -1e30)
Data data_with_outliers(Eigen::Index n, const std::vector<Eigen::Index>& outliers) {
  Data x(2, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    ft::philox_stream rng(7, std::uint64_t(j));
    const double a = rng.normal<double>();
    x(0, j) = a;
    x(1, j) = 0.5 * a + 0.3 * rng.normal<double>();
  }
  for (const Eigen::Index j : outliers) x.col(j) << 1e30, -1e30;
  return x;
}

ft::fit_options options() {
  ft::fit_options opt;
  opt.epochs = 3;
  opt.batch_size = 50;  // 20 steps per epoch of 1000 samples
  opt.seed = 5;
  opt.learning_rate = 2e-3;
  opt.quiet = true;
  return opt;
}

template <class G>
std::vector<double> flat(const G& f) {
  std::vector<double> v(ft::parameter_count_v<G>);
  ft::copy_parameters(f, v.data());
  return v;
}
}  // namespace

TEST_CASE("jump_detector: warm-up, the two kinds, the factor, and one outlier's small weight", "[training]") {
  ft::detail::jump_detector d{1e3};
  // the first 20 steps are applied and kept; one of them (step 10) an outlier
  for (long s = 0; s < 20; ++s) {
    CHECK_FALSE(d.check(s, 1, 1e40, 1e40).has_value());  // nothing is judged in the warm-up
    const auto late = d.accept(s == 10 ? 1e40 : (s % 2 ? 1.1 : 0.9), 1.0, 8);
    if (s < 19) {
      CHECK(late.empty());
    } else {
      // at the end of the warm-up: the typical values are medians, and step 10 is reported
      REQUIRE(late.size() == 1);
      CHECK(late[0].step == 10);
      CHECK(late[0].epoch == 2);  // 8 steps per epoch
      CHECK(late[0].kind == ft::fit_jump_kind::loss);
      CHECK_THAT(late[0].message, Contains("step 10 (epoch 2): the batch loss jumped to 1e+40") &&
                                      Contains("(found when the first 20 steps were in; applied)"));
    }
  }
  CHECK(d.armed());
  CHECK(d.warmup_loss.empty());
  // losses: nine 0.9, ten 1.1 and 1e40: median 1.1; absolute deviations from it: ten 0,
  // nine 0.2 and 1e40: median 0.1; the limit is 1.1 + 1e3 x 0.1
  CHECK(d.loss == Approx(1.1));
  CHECK(d.change == Approx(0.1));
  CHECK(d.grad_norm == 1.0);
  CHECK(d.loss_limit() == Approx(101.1));
  CHECK_FALSE(d.check(20, 2, 101.0, 1.0).has_value());
  const auto loss_jump = d.check(20, 2, 1e4, 1.0);
  REQUIRE(loss_jump.has_value());
  CHECK(loss_jump->kind == ft::fit_jump_kind::loss);
  CHECK(loss_jump->value == 1e4);
  CHECK(loss_jump->step == 20);
  CHECK(loss_jump->epoch == 2);
  CHECK_THAT(loss_jump->message, Contains("step 20 (epoch 2): the batch loss jumped to 10000 from a typical 1.1"));
  // the gradient norm: 1e3 times its average of 1
  CHECK_FALSE(d.check(20, 2, 1.0, 999.0).has_value());
  const auto norm_jump = d.check(20, 2, 1.0, 2000.0);
  REQUIRE(norm_jump.has_value());
  CHECK(norm_jump->kind == ft::fit_jump_kind::gradient_norm);
  CHECK_THAT(norm_jump->message, Contains("the gradient norm jumped to 2000 from a typical 1 (2000 times)"));
  // an applied outlier counts at the limit: the averages move by 1/20 of it at most
  const double before = d.loss;
  const double limit = d.loss_limit();
  CHECK(d.accept(1e58, 1e58, 8).empty());
  CHECK(d.loss <= before + (limit - before) / 20 * (1 + 1e-12));
  CHECK(d.grad_norm <= 1.0 + (1e3 - 1.0) / 20 * (1 + 1e-12));
  // non-finite values are not jumps (fit stops on them), and factor 0 detects nothing
  CHECK_FALSE(d.check(22, 2, std::numeric_limits<double>::infinity(), 1.0).has_value());
  ft::detail::jump_detector off{0};
  for (int s = 0; s < 30; ++s) CHECK(off.accept(1.0, 1.0, 8).empty());
  CHECK_FALSE(off.check(30, 2, 1e300, 1e300).has_value());
}

TEST_CASE("fit: rows at 1e30 in the data make jumps that are reported, counted and shown", "[training]") {
  const std::vector<Eigen::Index> outliers = {101, 517, 733};
  const Data x = data_with_outliers(1000, outliers);
  F f;
  ft::reset_parameters(f, 2);
  ft::fit_options opt = options();
  std::vector<ft::fit_jump> seen;
  opt.on_jump = [&](const ft::fit_jump& j) { seen.push_back(j); };
  long shown = 0;
  opt.on_progress = [&](const ft::fit_progress& p) { shown += p.jumps; };
  const auto r = ft::fit(f, x, opt);
  // three outlying samples, three epochs, each in one batch per epoch: at most 9 batches
  // hold one; the loss of such a batch is about 1e58 (a log density of -1e60 / 50)
  INFO("jumps: " << r.jump_count);
  CHECK(r.jump_count >= 6);
  CHECK(r.jump_count <= 9);
  CHECK(long(seen.size()) == r.jump_count);
  CHECK(shown == r.jump_count);
  REQUIRE(r.jumps.size() == seen.size());
  for (const auto& j : seen) {
    CHECK(j.kind == ft::fit_jump_kind::loss);
    CHECK(j.value > 1e50);
    CHECK_FALSE(j.skipped);
    CHECK_THAT(j.message, Contains("the batch loss jumped to") && Contains("outlying samples in this batch?"));
  }
  CHECK(r.stop == ft::fit_stop::completed);

  // the same data without the outliers: no jump at all
  F g;
  ft::reset_parameters(g, 2);
  const auto clean = ft::fit(g, data_with_outliers(1000, {}), options());
  CHECK(clean.jump_count == 0);
  CHECK(clean.jumps.empty());
}

TEST_CASE("fit: skip_jumps applies no update for a jumping step, and a resumed run decides alike", "[training]") {
  const Data x = data_with_outliers(1000, {101, 517, 733});
  F start;
  ft::reset_parameters(start, 2);
  ft::fit_options opt = options();
  opt.skip_jumps = true;
  ft::fit_state last;
  opt.checkpoint_every = 1;
  std::vector<ft::fit_state> states;
  opt.on_checkpoint = [&](const ft::fit_state& s) { states.push_back(s); };
  F f = start;
  const auto r = ft::fit(f, x, opt);
  REQUIRE(r.jump_count >= 6);
  REQUIRE(long(states.size()) == r.steps);
  // every skipped step left the parameters and Adam's step count as they were; the
  // warm-up's jumps (the first 20 steps, judged when they are in) were applied
  long skipped = 0;
  for (const auto& j : r.jumps) {
    INFO("step " << j.step);
    CHECK(j.skipped == (j.step >= 20));
    if (!j.skipped) continue;
    ++skipped;
    const auto& before = states[std::size_t(j.step - 1)];
    const auto& after = states[std::size_t(j.step)];
    CHECK(after.parameters == before.parameters);
    CHECK(after.adam_steps == before.adam_steps);
  }
  CHECK(skipped >= 4);
  CHECK(states.back().adam_steps == r.steps - skipped);
  // the parameters stayed those of training on ordinary samples: finite, a sensible density
  const double mean_lp = ft::log_prob(f, data_with_outliers(1000, {})).mean();
  CHECK(std::isfinite(mean_lp));
  CHECK(mean_lp > -3);

  // resumed from a checkpoint file after the first epoch's jumps, mid-epoch
  const long stop_at = 27;
  REQUIRE(states[std::size_t(stop_at - 1)].jump_count >= 2);
  const std::string path = (std::filesystem::temp_directory_path() / "flowtmpl_jump_resume.safetensors").string();
  ft::save_checkpoint(start, states[std::size_t(stop_at - 1)], path);
  const ft::fit_state s = ft::load_checkpoint(start, path);
  std::remove(path.c_str());
  CHECK(s.jump_seen == states[std::size_t(stop_at - 1)].jump_seen);
  CHECK(s.jump_loss == states[std::size_t(stop_at - 1)].jump_loss);  // exact: hexadecimal text
  CHECK(s.jump_grad_norm == states[std::size_t(stop_at - 1)].jump_grad_norm);
  ft::fit_options o2 = options();
  o2.skip_jumps = true;
  o2.resume = &s;
  F resumed;
  ft::reset_parameters(resumed, 99);
  const auto r2 = ft::fit(resumed, x, o2);
  CHECK(r2.jump_count == r.jump_count);
  CHECK(r2.train_loss == r.train_loss);
  CHECK(flat(resumed) == flat(f));  // bitwise
}

TEST_CASE("fit: options outside their domain are refused in one sentence", "[training]") {
  const Data x = data_with_outliers(200, {});
  F f;
  auto refused = [&](const std::function<void(ft::fit_options&)>& edit, const std::string& text) {
    ft::fit_options o = options();
    edit(o);
    CHECK_THROWS_MATCHES(ft::fit(f, x, o), ft::argument_error, Catch::Matchers::Message(text));
  };
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  refused([&](auto& o) { o.learning_rate = 0; }, "fit: options.learning_rate is 0; it must be finite and positive");
  refused([&](auto& o) { o.learning_rate = -1e-3; }, "fit: options.learning_rate is -0.001; it must be finite and positive");
  refused([&](auto& o) { o.learning_rate = nan; }, "fit: options.learning_rate is nan; it must be finite and positive");
  refused([&](auto& o) { o.learning_rate = inf; }, "fit: options.learning_rate is inf; it must be finite and positive");
  refused([&](auto& o) { o.beta1 = 1; }, "fit: options.beta1 is 1; it must be in [0, 1)");
  refused([&](auto& o) { o.beta2 = nan; }, "fit: options.beta2 is nan; it must be in [0, 1)");
  refused([&](auto& o) { o.eps = 0; }, "fit: options.eps is 0; it must be finite and positive");
  refused([&](auto& o) { o.weight_decay = -1; }, "fit: options.weight_decay is -1; it must be finite and not negative");
  refused([&](auto& o) { o.momentum = -0.5; }, "fit: options.momentum is -0.5; it must be in [0, 1)");
  refused([&](auto& o) { o.clip_norm = nan; }, "fit: options.clip_norm is nan; it must be finite and not negative (0: no clipping)");
  refused([&](auto& o) { o.patience = -2; }, "fit: options.patience is -2; it must be 0 (no early stopping) or positive");
  refused([&](auto& o) { o.max_steps = -1; }, "fit: options.max_steps is -1; it must be 0 (no limit) or positive");
  refused([&](auto& o) { o.jump_factor = 0.5; },
          "fit: options.jump_factor is 0.5; it must be 0 (no jump detection) or a finite factor above 1");
  refused([&](auto& o) { o.jump_factor = inf; },
          "fit: options.jump_factor is inf; it must be 0 (no jump detection) or a finite factor above 1");
  refused([&](auto& o) { o.jump_factor = -10; },
          "fit: options.jump_factor is -10; it must be 0 (no jump detection) or a finite factor above 1");
  refused([&](auto& o) { o.skip_jumps = true, o.jump_factor = 0; },
          "fit: options.skip_jumps is set but jump_factor is 0 (no step would be detected to skip)");
  refused([&](auto& o) { o.schedule = [=](long step) { return step < 2 ? 1e-3 : nan; }; },
          "fit: options.schedule(2) is nan; a learning rate must be finite and not negative");
  // a schedule replaces learning_rate, which is then not checked; 0 from a schedule is a learning rate
  ft::fit_options ok = options();
  ok.learning_rate = nan;
  ok.schedule = [](long step) { return step == 0 ? 0.0 : 1e-3; };
  ok.epochs = 1;
  CHECK_NOTHROW(ft::fit(f, x, ok));
}

}  // namespace jump_detector_test
