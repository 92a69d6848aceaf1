// benchmarks/zero_overhead.cpp: what composing layers as types costs.
//
// The flow: 16 layers, float, D = 8 and D = 64,
//   4 x [ActNorm | Affine, LUConv, LeakyReLU, Permute<Reverse>]
// (ActNorm in blocks 0 and 2, Affine in blocks 1 and 3), random non-trivial parameters,
// evaluated on a batch of 4096 samples (columns), single-threaded, in both directions:
//   forward   the sampling direction:  x -> {f(x), log|det df/dx|}, x standard normal
//   inverse   the density direction:   y -> {f^-1(y), log|det df^-1/dy|}, y = f(x)
//
// Four ways to compute the same thing, each timed per batch call:
//   a_batch        flowtmpl::forward_and_log_det(flow, X) (inverse_and_log_det): the
//                  library's batch entry point (prepare, constant part, 256-column
//                  blocks). It returns fresh matrices: the only path that allocates.
//   b_per_sample   flowtmpl::prepare(flow) once per batch, then the public per-sample
//                  flowtmpl::forward_and_log_det(prepared, x) on every column.
//   c_hand_eigen   the same arithmetic written by hand in one loop over the columns,
//                  with fixed-size Eigen vectors and matrices (the reference of the
//                  1.15x target: same kernels, no composition).
//   d_hand_plain   the same again with plain float arrays and for loops only; its one
//                  deliberate difference: LeakyReLU's log-det is (number of negative
//                  inputs) * log(slope), an integer count, where the others sum
//                  log(slope) over the negative inputs (equal up to rounding).
// Every hand-written version prepares what the library prepares, once per batch call:
// scale = exp(log_scale) and its reciprocal, the dense W = P L (U + diag s) and its
// inverse, the constant part of the log-det. b, c and d write into buffers allocated
// once, outside the timed loop.
//
// Before timing, every version runs once in each direction and is compared with
// c_hand_eigen; the program aborts if any value or log-det differs by more than
// rounding (see agree()).
//
// Run single-threaded: the program calls omp_set_num_threads(1) when built with
// OpenMP; set OMP_NUM_THREADS=1 as well. Times are per batch call (4096 samples).
// docs/performance.md ("Zero-overhead composition") has the command and the results.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <Eigen/Core>
#include <Eigen/LU>

#include <flowtmpl/flowtmpl.hpp>

#if defined(_OPENMP)
#include <omp.h>
using flowtmpl::direction;
#endif

namespace {

namespace ft = flowtmpl;

constexpr int kBlocks = 4;
constexpr Eigen::Index kBatch = 4096;

template <int D>
using Flow = ft::bind_t<ft::compose<ft::ActNorm, ft::LUConv, ft::LeakyReLU, ft::Permute<ft::Reverse>,  //
                                   ft::Affine, ft::LUConv, ft::LeakyReLU, ft::Permute<ft::Reverse>,   //
                                   ft::ActNorm, ft::LUConv, ft::LeakyReLU, ft::Permute<ft::Reverse>,  //
                                   ft::Affine, ft::LUConv, ft::LeakyReLU, ft::Permute<ft::Reverse>>,
                        D, float>;

// The raw parameters of one block, as the layers store them.
template <int D>
struct BlockParams {
  static constexpr int n_tri = D * (D - 1) / 2;
  std::array<float, D> log_scale, shift;  // ActNorm / Affine
  std::array<float, n_tri> lower, upper;  // LUConv: strictly lower / upper, row-major packed
  std::array<float, D> diag, signs, bias;  // LUConv: s_i = signs_i * exp(diag_i)
  std::array<int, D> perm;                 // LUConv: (P v)_i = v_{perm[i]}
  float slope;                             // LeakyReLU
};

constexpr int lower_at(int i, int j) { return i * (i - 1) / 2 + j; }           // j < i
constexpr int upper_at(int d, int i, int j) { return i * d - i * (i + 1) / 2 + (j - i - 1); }  // j > i

template <int D>
struct Problem {
  using Mat = Eigen::Matrix<float, D, Eigen::Dynamic>;
  std::array<BlockParams<D>, kBlocks> params;
  Flow<D> flow;
  Mat x;             // forward input: standard normal draws (the base side)
  Mat y;             // inverse input: the forward image of x (data as the flow makes it)
  Mat values;        // preallocated outputs
  Eigen::RowVectorXf log_det;
};

template <int D>
std::unique_ptr<Problem<D>> make_problem() {
  auto pr = std::make_unique<Problem<D>>();
  std::mt19937 rng(20240601u + D);
  auto uni = [&](float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); };
  const float tri = 0.5f / std::sqrt(float(D));
  for (auto& p : pr->params) {
    for (int i = 0; i < D; ++i) {
      p.log_scale[i] = uni(-0.3f, 0.3f);
      p.shift[i] = uni(-0.5f, 0.5f);
      p.diag[i] = uni(-0.2f, 0.2f);
      p.signs[i] = uni(0.f, 1.f) < 0.5f ? -1.f : 1.f;
      p.bias[i] = uni(-0.2f, 0.2f);
    }
    for (int k = 0; k < BlockParams<D>::n_tri; ++k) {
      p.lower[k] = uni(-tri, tri);
      p.upper[k] = uni(-tri, tri);
    }
    std::iota(p.perm.begin(), p.perm.end(), 0);
    std::shuffle(p.perm.begin(), p.perm.end(), rng);
    p.slope = uni(0.05f, 0.3f);
  }
  // The same parameters into the composed flow: layer 4b + 0 is ActNorm or Affine,
  // 4b + 1 LUConv, 4b + 2 LeakyReLU, 4b + 3 Permute<Reverse> (nothing to set).
  [&]<int... B>(std::integer_sequence<int, B...>) {
    (
        [&] {
          const BlockParams<D>& p = pr->params[B];
          auto& affine = pr->flow.template get<4 * B + 0>();
          affine.log_scale = p.log_scale;
          affine.shift = p.shift;
          auto& lu = pr->flow.template get<4 * B + 1>();
          lu.lower_entries = p.lower;
          lu.upper_entries = p.upper;
          lu.diag = p.diag;
          lu.set_signs(p.signs);
          lu.bias = p.bias;
          lu.set_permutation(p.perm);
          pr->flow.template get<4 * B + 2>().negative_slope = p.slope;
        }(),
        ...);
  }(std::make_integer_sequence<int, kBlocks>{});

  std::normal_distribution<float> normal(0.f, 1.f);
  pr->x.resize(D, kBatch);
  for (Eigen::Index j = 0; j < kBatch; ++j)
    for (int i = 0; i < D; ++i) pr->x(i, j) = normal(rng);
  pr->values.resize(D, kBatch);
  pr->log_det.resize(kBatch);
  return pr;
}

template <int D, direction Dir>
void run_hand_eigen(const Problem<D>& pr, Eigen::Matrix<float, D, Eigen::Dynamic>& values, Eigen::RowVectorXf& log_det);

template <int D>
std::unique_ptr<Problem<D>> make_problem_with_data() {
  auto pr = make_problem<D>();
  pr->y.resize(D, kBatch);
  run_hand_eigen<D, direction::forward>(*pr, pr->y, pr->log_det);
  return pr;
}

template <int D>
Problem<D>& problem() {
  static const std::unique_ptr<Problem<D>> p = make_problem_with_data<D>();
  return *p;
}

// Each version is one function that computes a whole batch, kept out of line so that a
// profile (perf, callgrind) shows it on its own; the call costs nothing next to a batch.

// ---- a: the batch entry point -----------------------------------------------------

template <int D, direction Dir>
[[gnu::noinline]] ft::batch_result<float, D> run_batch(const Problem<D>& pr) {
  if constexpr (Dir == direction::forward)
    return ft::forward_and_log_det(pr.flow, pr.x);
  else
    return ft::inverse_and_log_det(pr.flow, pr.y);
}

// ---- b: prepare once, then the per-sample API -----------------------------------------

template <int D, direction Dir>
[[gnu::noinline]] void run_per_sample(const Problem<D>& pr, Eigen::Matrix<float, D, Eigen::Dynamic>& values, Eigen::RowVectorXf& log_det) {
  const auto p = ft::prepare(pr.flow);
  const auto& in = Dir == direction::forward ? pr.x : pr.y;
  for (Eigen::Index j = 0; j < in.cols(); ++j) {
    const ft::vector_t<Flow<D>> v = in.col(j);
    const auto r = Dir == direction::forward ? ft::forward_and_log_det(p, v) : ft::inverse_and_log_det(p, v);
    values.col(j) = r.value;
    log_det[j] = r.log_det;
  }
}

// ---- c: by hand, fixed-size Eigen ---------------------------------------------------

template <int D>
struct HandEigen {
  using Vec = Eigen::Matrix<float, D, 1>;
  using Arr = Eigen::Array<float, D, 1>;
  using Mat = Eigen::Matrix<float, D, D>;
  struct Block {
    Arr scale, inv_scale, shift;
    Mat w, w_inv;
    Vec bias;
    float slope, log_slope;
  };
  std::array<Block, kBlocks> blocks;
  float constant;  // sum of the constant log-dets, in layer order

  explicit HandEigen(const std::array<BlockParams<D>, kBlocks>& params) {
    constant = 0.f;
    for (int b = 0; b < kBlocks; ++b) {
      const BlockParams<D>& p = params[b];
      Block& k = blocks[b];
      const Eigen::Map<const Arr> ls(p.log_scale.data());
      k.scale = ls.exp();
      k.inv_scale = (-ls).exp();
      k.shift = Eigen::Map<const Arr>(p.shift.data());
      Mat l = Mat::Identity(), u = Mat::Zero(), perm = Mat::Zero();
      for (int i = 0; i < D; ++i) {
        u(i, i) = p.signs[i] * std::exp(p.diag[i]);
        for (int j = 0; j < i; ++j) l(i, j) = p.lower[lower_at(i, j)];
        for (int j = i + 1; j < D; ++j) u(i, j) = p.upper[upper_at(D, i, j)];
        perm(i, p.perm[i]) = 1.f;
      }
      k.w = perm * (l * u);
      k.w_inv = u.template triangularView<Eigen::Upper>().solve(
          l.template triangularView<Eigen::UnitLower>().solve(Mat(perm.transpose())));
      k.bias = Eigen::Map<const Vec>(p.bias.data());
      k.slope = p.slope;
      k.log_slope = std::log(p.slope);
      constant += ls.sum();
      float diag_sum = 0.f;
      for (int i = 0; i < D; ++i) diag_sum += p.diag[i];  // log|s_i| = diag_i
      constant += diag_sum;
    }
  }
};

template <int D, direction Dir>
[[gnu::noinline]] void run_hand_eigen(const Problem<D>& pr, Eigen::Matrix<float, D, Eigen::Dynamic>& values, Eigen::RowVectorXf& log_det) {
  using H = HandEigen<D>;
  const H h(pr.params);
  const auto& in = Dir == direction::forward ? pr.x : pr.y;
  for (Eigen::Index j = 0; j < in.cols(); ++j) {
    typename H::Vec v = in.col(j);
    float ld = 0.f;
    if constexpr (Dir == direction::forward) {
      for (int b = 0; b < kBlocks; ++b) {
        const typename H::Block& k = h.blocks[b];
        v = (v.array() * k.scale + k.shift).matrix();
        v = k.w * v + k.bias;
        ld += (v.array() >= 0.f).select(0.f, H::Arr::Constant(k.log_slope)).sum();
        v = (v.array() >= 0.f).select(v.array(), k.slope * v.array()).matrix();
        v.reverseInPlace();
      }
      ld += h.constant;
    } else {
      for (int b = kBlocks - 1; b >= 0; --b) {
        const typename H::Block& k = h.blocks[b];
        v.reverseInPlace();
        v = (v.array() >= 0.f).select(v.array(), v.array() / k.slope).matrix();
        ld += -(v.array() >= 0.f).select(0.f, H::Arr::Constant(k.log_slope)).sum();
        v = k.w_inv * (v - k.bias);
        v = ((v.array() - k.shift) * k.inv_scale).matrix();
      }
      ld -= h.constant;
    }
    values.col(j) = v;
    log_det[j] = ld;
  }
}

// ---- d: by hand, plain arrays and loops ---------------------------------------------

template <int D>
struct HandPlain {
  struct Block {
    float scale[D], inv_scale[D], shift[D], bias[D];
    float w[D * D], w_inv[D * D];  // column-major: element (i, k) at [k * D + i]
    float slope, log_slope;
  };
  Block blocks[kBlocks];
  float constant;

  explicit HandPlain(const std::array<BlockParams<D>, kBlocks>& params) {
    constant = 0.f;
    for (int b = 0; b < kBlocks; ++b) {
      const BlockParams<D>& p = params[b];
      Block& k = blocks[b];
      float log_scale_sum = 0.f, diag_sum = 0.f;
      for (int i = 0; i < D; ++i) {
        k.scale[i] = std::exp(p.log_scale[i]);
        k.inv_scale[i] = std::exp(-p.log_scale[i]);
        k.shift[i] = p.shift[i];
        k.bias[i] = p.bias[i];
        log_scale_sum += p.log_scale[i];
        diag_sum += p.diag[i];
      }
      constant += log_scale_sum;
      constant += diag_sum;
      k.slope = p.slope;
      k.log_slope = std::log(p.slope);
      // L(i, j) for j <= i (unit diagonal) and U(i, j) for j >= i (diagonal s).
      auto l_at = [&](int i, int j) { return i == j ? 1.f : p.lower[lower_at(i, j)]; };
      auto u_at = [&](int i, int j) { return i == j ? p.signs[i] * std::exp(p.diag[i]) : p.upper[upper_at(D, i, j)]; };
      // W(i, c) = (L U)(perm[i], c), (L U)(r, c) = sum_{m <= min(r, c)} L(r, m) U(m, c).
      for (int i = 0; i < D; ++i) {
        const int r = p.perm[i];
        for (int c = 0; c < D; ++c) {
          float acc = 0.f;
          for (int m = 0; m <= std::min(r, c); ++m) acc += l_at(r, m) * u_at(m, c);
          k.w[c * D + i] = acc;
        }
      }
      // W^-1 = U^-1 L^-1 P^T; column c of P^T is the unit vector e_{perm[c]}.
      for (int c = 0; c < D; ++c) {
        float z[D];
        for (int i = 0; i < D; ++i) {  // L z = e_{perm[c]}
          float acc = (i == p.perm[c]) ? 1.f : 0.f;
          for (int m = 0; m < i; ++m) acc -= l_at(i, m) * z[m];
          z[i] = acc;
        }
        float* col = k.w_inv + c * D;
        for (int i = D - 1; i >= 0; --i) {  // U col = z
          float acc = z[i];
          for (int m = i + 1; m < D; ++m) acc -= u_at(i, m) * col[m];
          col[i] = acc / u_at(i, i);
        }
      }
    }
  }
};

// y = W x, W column-major D x D.
template <int D>
inline void matvec(const float* w, const float* x, float* y) {
  for (int i = 0; i < D; ++i) y[i] = 0.f;
  for (int k = 0; k < D; ++k) {
    const float xk = x[k];
    const float* col = w + k * D;
    for (int i = 0; i < D; ++i) y[i] += col[i] * xk;
  }
}

template <int D, direction Dir>
[[gnu::noinline]] void run_hand_plain(const Problem<D>& pr, Eigen::Matrix<float, D, Eigen::Dynamic>& values, Eigen::RowVectorXf& log_det) {
  const auto h = std::make_unique<HandPlain<D>>(pr.params);  // 2 dense D x D per block: on the heap
  const float* in = (Dir == direction::forward ? pr.x : pr.y).data();
  float* out = values.data();
  for (Eigen::Index j = 0; j < kBatch; ++j) {
    float v[D], t[D];
    for (int i = 0; i < D; ++i) v[i] = in[j * D + i];
    float ld = 0.f;
    if constexpr (Dir == direction::forward) {
      for (int b = 0; b < kBlocks; ++b) {
        const auto& k = h->blocks[b];
        for (int i = 0; i < D; ++i) v[i] = v[i] * k.scale[i] + k.shift[i];
        matvec<D>(k.w, v, t);
        int negative = 0;
        for (int i = 0; i < D; ++i) {
          const float y = t[i] + k.bias[i];
          negative += y < 0.f;
          t[i] = y < 0.f ? k.slope * y : y;
        }
        ld += float(negative) * k.log_slope;
        for (int i = 0; i < D; ++i) v[i] = t[D - 1 - i];
      }
      ld += h->constant;
    } else {
      for (int b = kBlocks - 1; b >= 0; --b) {
        const auto& k = h->blocks[b];
        int negative = 0;
        for (int i = 0; i < D; ++i) {
          const float y = v[D - 1 - i];
          negative += y < 0.f;
          t[i] = (y < 0.f ? y / k.slope : y) - k.bias[i];
        }
        ld -= float(negative) * k.log_slope;
        matvec<D>(k.w_inv, t, v);
        for (int i = 0; i < D; ++i) v[i] = (v[i] - k.shift[i]) * k.inv_scale[i];
      }
      ld -= h->constant;
    }
    for (int i = 0; i < D; ++i) out[j * D + i] = v[i];
    log_det[j] = ld;
  }
}

// ---- agreement ----------------------------------------------------------------------

// Values: |a - b| <= 1e-3 (1 + max |b|), the max over the sample's components (rounding
// in a product scales with the whole vector, not with one output; d inverts W in
// another order and its inverse divides by slopes down to 0.05, which amplifies it).
// Log-dets: |a - b| <= 1e-4 (1 + |b|),
// except that a LeakyReLU input within rounding of 0 may take the other branch in
// a version whose sums are ordered differently (d sums in another order than Eigen);
// such a sample's log-det is off by a multiple of log(slope). Up to 0.1% of the samples
// (4 of 4096) may be off by at most 4 |log(min slope)|; anything else aborts.
template <int D>
void agree(const char* what, const Eigen::Matrix<float, D, Eigen::Dynamic>& v, const Eigen::RowVectorXf& ld,
           const Eigen::Matrix<float, D, Eigen::Dynamic>& ref_v, const Eigen::RowVectorXf& ref_ld, float max_abs_log_slope) {
  const float tol_value = 1e-3f, tol = 1e-4f;
  float worst_value = 0.f;
  for (Eigen::Index j = 0; j < ref_v.cols(); ++j) {
    const float scale = 1.f + ref_v.col(j).cwiseAbs().maxCoeff();
    for (int i = 0; i < D; ++i) {
      const float e = std::abs(v(i, j) - ref_v(i, j)) / scale;
      if (!(e <= tol_value)) {
        std::fprintf(stderr, "zero_overhead: %s: value (%d, %ld) is %.9g, the reference %.9g\n", what, i, long(j),
                     double(v(i, j)), double(ref_v(i, j)));
        std::abort();
      }
      worst_value = std::max(worst_value, e);
    }
  }
  long flipped = 0;
  float worst_ld = 0.f;
  for (Eigen::Index j = 0; j < ref_ld.size(); ++j) {
    const float d = std::abs(ld[j] - ref_ld[j]);
    const float e = d / (1.f + std::abs(ref_ld[j]));
    if (e <= tol) {
      worst_ld = std::max(worst_ld, e);
      continue;
    }
    ++flipped;
    if (!(d <= 4.f * max_abs_log_slope + 1e-3f) || flipped > ref_ld.size() / 1000) {
      std::fprintf(stderr, "zero_overhead: %s: log-det %ld is %.9g, the reference %.9g\n", what, long(j), double(ld[j]),
                   double(ref_ld[j]));
      std::abort();
    }
  }
  std::fprintf(stderr, "  %-28s agrees: max error values %.2e, log-det %.2e, LeakyReLU branch flips %ld\n", what,
               double(worst_value), double(worst_ld), flipped);
}

template <int D, direction Dir>
void verify() {
  Problem<D>& pr = problem<D>();
  const std::string dir = std::string(Dir == direction::forward ? "forward" : "inverse") + "/D=" + std::to_string(D);
  float max_abs_log_slope = 0.f;
  for (const auto& p : pr.params) max_abs_log_slope = std::max(max_abs_log_slope, std::abs(std::log(p.slope)));

  // Parameters valid and no sample leaves a layer's domain (throws otherwise).
  (void)(Dir == direction::forward ? ft::forward_and_log_det(pr.flow, pr.x, ft::checked) : ft::inverse_and_log_det(pr.flow, pr.y, ft::checked));

  Eigen::Matrix<float, D, Eigen::Dynamic> ref_v(D, kBatch), v(D, kBatch);
  Eigen::RowVectorXf ref_ld(kBatch), ld(kBatch);
  run_hand_eigen<D, Dir>(pr, ref_v, ref_ld);
  if (!ref_v.allFinite() || !ref_ld.allFinite()) {
    std::fprintf(stderr, "zero_overhead: %s: the reference is not finite\n", dir.c_str());
    std::abort();
  }
  const auto a = run_batch<D, Dir>(pr);
  agree<D>((dir + " a_batch").c_str(), a.values, a.log_det, ref_v, ref_ld, max_abs_log_slope);
  run_per_sample<D, Dir>(pr, v, ld);
  agree<D>((dir + " b_per_sample").c_str(), v, ld, ref_v, ref_ld, max_abs_log_slope);
  run_hand_plain<D, Dir>(pr, v, ld);
  agree<D>((dir + " d_hand_plain").c_str(), v, ld, ref_v, ref_ld, max_abs_log_slope);
}

// ---- benchmarks -----------------------------------------------------------------------

template <int D, direction Dir>
void bm_batch(benchmark::State& state) {
  const Problem<D>& pr = problem<D>();
  for (auto _ : state) {
    auto r = run_batch<D, Dir>(pr);
    benchmark::DoNotOptimize(r.values.data());
    benchmark::DoNotOptimize(r.log_det.data());
    benchmark::ClobberMemory();
  }
}

template <int D, direction Dir, void (*Run)(const Problem<D>&, Eigen::Matrix<float, D, Eigen::Dynamic>&, Eigen::RowVectorXf&)>
void bm_into_buffer(benchmark::State& state) {
  Problem<D>& pr = problem<D>();
  for (auto _ : state) {
    Run(pr, pr.values, pr.log_det);
    benchmark::DoNotOptimize(pr.values.data());
    benchmark::DoNotOptimize(pr.log_det.data());
    benchmark::ClobberMemory();
  }
}

// With --benchmark_repetitions, the fastest repetition is reported as well ("_min")
// next to mean, median, stddev and cv: on a shared machine other work only ever adds
// time, so the minimum is the least disturbed figure.
double fastest(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); }

template <int D, direction Dir>
void register_all() {
  const std::string prefix = std::string(Dir == direction::forward ? "forward" : "inverse") + "/D=" + std::to_string(D) + "/";
  for (auto* b : {benchmark::RegisterBenchmark((prefix + "a_batch").c_str(), bm_batch<D, Dir>),
                  benchmark::RegisterBenchmark((prefix + "b_per_sample").c_str(),
                                               bm_into_buffer<D, Dir, run_per_sample<D, Dir>>),
                  benchmark::RegisterBenchmark((prefix + "c_hand_eigen").c_str(),
                                               bm_into_buffer<D, Dir, run_hand_eigen<D, Dir>>),
                  benchmark::RegisterBenchmark((prefix + "d_hand_plain").c_str(),
                                               bm_into_buffer<D, Dir, run_hand_plain<D, Dir>>)})
    b->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", fastest);
}

}  // namespace

int main(int argc, char** argv) {
#if defined(_OPENMP)
  omp_set_num_threads(1);
#endif
  std::fprintf(stderr, "zero_overhead: checking that every version computes the same thing\n");
  verify<8, direction::forward>();
  verify<8, direction::inverse>();
  verify<64, direction::forward>();
  verify<64, direction::inverse>();

  register_all<8, direction::forward>();
  register_all<8, direction::inverse>();
  register_all<64, direction::forward>();
  register_all<64, direction::inverse>();

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("flow", "4 x [ActNorm|Affine, LUConv, LeakyReLU, Permute<Reverse>], float");
  benchmark::AddCustomContext("batch", std::to_string(kBatch));
#if defined(_OPENMP)
  benchmark::AddCustomContext("openmp_threads", std::to_string(omp_get_max_threads()));
#else
  benchmark::AddCustomContext("openmp_threads", "no OpenMP");
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
