// Tests of flowtmpl/training/optimizers.hpp: adam's step, which runs over the
// parameters in fixed chunks (in parallel where OpenMP is on) with SIMD arithmetic over
// pieces of 256: against PyTorch's update written here one parameter at a time, over
// sizes that end inside a piece, on a piece's edge and on a chunk's edge; the same bits
// on 1 and 2 threads; a NaN gradient reaching its own parameter only. (The first steps'
// closed forms and sgd are in training_test.cpp.)
#include <flowtmpl/training/optimizers.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>

namespace optimizers_test {

#endif

namespace {

namespace ft = flowtmpl;

// PyTorch's Adam (AdamW when wd != 0), one parameter at a time, in double.
struct reference_adam {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0;
  std::vector<double> m, v;
  long t = 0;
  template <class S>
  void step(std::vector<S>& p, const std::vector<S>& g, double lr) {
    if (m.empty()) m.assign(p.size(), 0.0), v.assign(p.size(), 0.0);
    ++t;
    const double bc1 = 1 - std::pow(beta1, double(t)), bc2 = 1 - std::pow(beta2, double(t));
    for (std::size_t i = 0; i < p.size(); ++i) {
      double x = double(p[i]);
      const double gi = double(g[i]);
      x -= lr * wd * x;
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      const double m_hat = m[i] / bc1, v_hat = v[i] / bc2;
      x -= lr * m_hat / (std::sqrt(v_hat) + eps);
      p[i] = S(x);
    }
  }
};

template <class S>
std::vector<S> normal_values(std::size_t n, unsigned seed, double scale) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> d(0.0, scale);
  std::vector<S> out(n);
  for (S& x : out) x = S(d(gen));
  return out;
}

// five steps of adam from the same start and gradients; returns the parameters
template <class S>
std::vector<S> run_adam(std::size_t n, double wd, ft::adam<S>* keep = nullptr) {
  ft::adam<S> opt;
  opt.weight_decay = wd;
  std::vector<S> p = normal_values<S>(n, 1, 1.0);
  for (unsigned s = 0; s < 5; ++s) {
    const std::vector<S> g = normal_values<S>(n, 100 + s, 0.1 + s);
    opt.step(p.data(), g.data(), n, 1e-2);
  }
  if (keep) *keep = opt;
  return p;
}

template <class S>
bool same_bits(const std::vector<S>& x, const std::vector<S>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(S)) == 0;
}

template <class S>
void check_against_reference(std::size_t n, double wd) {
  CAPTURE(n, wd, sizeof(S));
  ft::adam<S> opt;
  const std::vector<S> got = run_adam<S>(n, wd, &opt);
  reference_adam ref;
  ref.wd = wd;
  std::vector<S> p = normal_values<S>(n, 1, 1.0);
  for (unsigned s = 0; s < 5; ++s) ref.step(p, normal_values<S>(n, 100 + s, 0.1 + s), 1e-2);
  // the two differ in where the bias corrections are divided (rounding of double)
  const double tol = sizeof(S) == 4 ? 1e-6 : 1e-13;
  int wrong = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::fabs(double(got[i]) - double(p[i])) > tol * (1 + std::fabs(double(p[i])))) ++wrong;
    if (std::fabs(opt.m[i] - ref.m[i]) > 1e-14 * (1 + std::fabs(ref.m[i]))) ++wrong;
    if (std::fabs(opt.v[i] - ref.v[i]) > 1e-14 * (1 + std::fabs(ref.v[i]))) ++wrong;
  }
  CHECK(wrong == 0);
  CHECK(opt.t == 5);
}

const std::vector<std::size_t> sizes{1, 3, 255, 256, 257, 4095, 4096, 4097, 10000};

}  // namespace

TEST_CASE("adam: every parameter as PyTorch's update, at every size of piece and chunk", "[optimizers]") {
  for (std::size_t n : sizes)
    for (double wd : {0.0, 0.05}) {
      check_against_reference<float>(n, wd);
      check_against_reference<double>(n, wd);
    }
}

TEST_CASE("adam: the same bits on 1 and 2 threads", "[optimizers]") {
#if defined(_OPENMP)
  const int before = omp_get_max_threads();
  for (std::size_t n : {std::size_t(4097), std::size_t(10000)}) {
    omp_set_num_threads(1);
    const auto one = run_adam<float>(n, 0.05);
    omp_set_num_threads(2);
    const auto two = run_adam<float>(n, 0.05);
    CHECK(same_bits(one, two));
  }
  omp_set_num_threads(before);
#else
  WARN("built without OpenMP: adam's step runs on one thread, nothing to compare");
  CHECK(same_bits(run_adam<float>(4097, 0.05), run_adam<float>(4097, 0.05)));
#endif
}

TEST_CASE("adam: a NaN gradient makes its own parameter NaN and leaves the others' bits", "[optimizers]") {
  const std::size_t n = 600, bad = 300;
  std::vector<float> clean = normal_values<float>(n, 1, 1.0), dirty = clean;
  std::vector<float> g = normal_values<float>(n, 7, 1.0);
  ft::adam<float> a, b;
  a.step(clean.data(), g.data(), n, 1e-2);
  g[bad] = std::numeric_limits<float>::quiet_NaN();
  b.step(dirty.data(), g.data(), n, 1e-2);
  int misplaced = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (i == bad ? !std::isnan(dirty[i]) : std::memcmp(&dirty[i], &clean[i], sizeof(float)) != 0) ++misplaced;
  CHECK(misplaced == 0);
}

}  // namespace optimizers_test
