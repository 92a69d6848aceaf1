// The per-sample path without exceptions, without RTTI and without a heap allocation.
//
// Built with -fno-exceptions -fno-rtti (checked below). The global operator new and
// delete, every form, are replaced by counting versions, and Eigen's own allocator (which
// calls malloc, not operator new) is watched with EIGEN_RUNTIME_NO_MALLOC: any Eigen heap
// allocation while it is forbidden goes through eigen_assert, defined here to count.
// Across many per-sample calls of a Glow-like chain and of a flow built on it, both
// counts must stay zero; a deliberate std::vector and a deliberate Eigen::VectorXd prove
// that each counter counts. Exit status 0 on success.
//
//   no_alloc_test --inject=vector|eigen   also allocates (a std::vector, an
//                                         Eigen::VectorXd) in the middle of the
//                                         per-sample loop: the test must then fail.

// Before any Eigen header: count Eigen's assertion failures (a forbidden allocation is one).
void flowtmpl_test_eigen_assert_failed(const char* what, const char* file, int line) noexcept;
#define eigen_assert(x) ((x) ? static_cast<void>(0) : ::flowtmpl_test_eigen_assert_failed(#x, __FILE__, __LINE__))

#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/affine.hpp>
#include <flowtmpl/bijectors/autoregressive.hpp>
#include <flowtmpl/bijectors/coupling.hpp>
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/bijectors/leaky_relu.hpp>
#include <flowtmpl/bijectors/lu_conv.hpp>
#include <flowtmpl/bijectors/permute.hpp>
#include <flowtmpl/bijectors/tanh.hpp>
#include <flowtmpl/chain.hpp>
#include <flowtmpl/core.hpp>
#include <flowtmpl/distributions/diagonal_normal.hpp>
#include <flowtmpl/distributions/flow_distribution.hpp>
#include <flowtmpl/distributions/standard_normal.hpp>
#include <flowtmpl/jacobian.hpp>
#include <flowtmpl/parameters.hpp>
#include <flowtmpl/random.hpp>
#include <flowtmpl/transformers/spline.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#error "this test must be compiled with -fno-exceptions"
#endif
#if defined(__cpp_rtti) || defined(__GXX_RTTI)
#error "this test must be compiled with -fno-rtti"
#endif
#ifndef EIGEN_RUNTIME_NO_MALLOC
#error "this test must be compiled with -DEIGEN_RUNTIME_NO_MALLOC"
#endif
static_assert(FLOWTMPL_HAS_EXCEPTIONS == 0, "flowtmpl must see that exceptions are off");

// ---- counting allocation functions ----------------------------------------------------
namespace {
std::size_t g_allocations = 0;    // calls of any operator new
std::size_t g_deallocations = 0;  // calls of any operator delete with a non-null pointer
std::size_t g_eigen_failures = 0;
const char* g_first_eigen_failure = nullptr;

void* counted_alloc(std::size_t size, std::size_t alignment, bool nothrow) noexcept {
  ++g_allocations;
  if (size == 0) size = 1;
  void* p = nullptr;
  if (alignment <= alignof(std::max_align_t)) {
    p = std::malloc(size);
  } else {
    size = (size + alignment - 1) / alignment * alignment;  // aligned_alloc wants a multiple
    p = std::aligned_alloc(alignment, size);
  }
  if (p == nullptr && !nothrow) {
    std::fputs("no_alloc_test: out of memory\n", stderr);
    std::abort();
  }
  return p;
}
void counted_free(void* p) noexcept {
  if (p != nullptr) ++g_deallocations;
  std::free(p);
}
}  // namespace

void flowtmpl_test_eigen_assert_failed(const char* what, const char* file, int line) noexcept {
  if (g_eigen_failures++ == 0) {
    g_first_eigen_failure = what;
    std::fprintf(stderr, "no_alloc_test: eigen_assert(%s) failed at %s:%d\n", what, file, line);
  }
}

void* operator new(std::size_t n) { return counted_alloc(n, 0, false); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0, false); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0, true); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0, true); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc(n, std::size_t(a), false); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc(n, std::size_t(a), false); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, std::size_t(a), true);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, std::size_t(a), true);
}
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }

namespace {

namespace ft = flowtmpl;

int g_failures = 0;
void check(bool ok, const char* what) {
  if (!ok) {
    ++g_failures;
    std::fprintf(stderr, "no_alloc_test: FAILED: %s\n", what);
  }
}

// The counted region: no operator new and no Eigen heap allocation may happen inside.
struct counted_region {
  std::size_t allocations_before = g_allocations;
  std::size_t eigen_before = g_eigen_failures;
  counted_region() { Eigen::internal::set_is_malloc_allowed(false); }
  ~counted_region() { Eigen::internal::set_is_malloc_allowed(true); }
  std::size_t allocations() const { return g_allocations - allocations_before; }
  std::size_t eigen_allocations() const { return g_eigen_failures - eigen_before; }
};

using glow_like = ft::compose<ft::ActNorm, ft::LUConv, ft::Permute<ft::Reverse>, ft::Tanh, ft::Affine, ft::LeakyReLU>;

template <class S>
S relative_error(S a, S b) {
  using std::abs;
  return abs(a - b) / (S(1) + abs(b));
}

enum class inject { nothing, vector, eigen };
inject g_inject = inject::nothing;
volatile double g_sink = 0;

[[gnu::noinline]] void injected_allocation() {
  if (g_inject == inject::vector) {
    std::vector<double> v(16, 1.0);
    g_sink = g_sink + v.back();
  } else if (g_inject == inject::eigen) {
    const Eigen::VectorXd v = Eigen::VectorXd::Ones(16);
    g_sink = g_sink + v[15];
  }
}

template <int D, class S>
void run(long samples) {
  using B = ft::bind_t<glow_like, D, S>;
  using V = ft::vector_t<B>;
  using flow_t = ft::bind_t<ft::Flow<ft::DiagonalNormal, glow_like>, D, S>;

  // Parameters: small random values (outside the counted region: naming the parameter
  // blocks builds std::strings).
  B b;
  ft::philox_stream init(2024, D);
  ft::for_each_parameter(b, [&](const auto&, S* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) data[i] = S(0.2) * init.normal<S>();
  });
  b.template get<5>().negative_slope = S(0.3);
  flow_t flow;
  flow.transform = b;
  for (int i = 0; i < D; ++i) flow.base.mean[i] = S(0.1) * S(i);

  // Loose in float: Tanh's inverse near +-1 loses digits. This test is about allocation;
  // the unit tests check the values.
  const S tol = sizeof(S) == 4 ? S(1e-2) : S(1e-9);
  S worst_round_trip(0), worst_log_det(0), worst_log_prob(0), checksum(0);
  std::size_t allocations = 0, eigen_allocations = 0;
  {
    const counted_region region;
    const auto inv = ft::invert(b);
    const auto prepared = ft::prepare(b);
    for (long j = 0; j < samples; ++j) {
      ft::philox_stream rng(7, std::uint64_t(j));
      V z;
      for (int i = 0; i < D; ++i) z[i] = rng.normal<S>();

      // members
      const V y = b.forward(z);
      const V back = b.inverse(y);
      const S ld = b.log_det(z);
      // free functions on one fixed-size vector
      const auto fwd = ft::forward_and_log_det(b, z);
      const auto bwd = ft::inverse_and_log_det(b, y);
      const S ild = ft::inverse_log_det(b, y);
      const auto via_inverse = ft::forward_and_log_det(inv, y);
      const V y_prepared = prepared.forward(z);
      const auto jac = ft::jacobian(b, z);

      // the flow: density and draws, plain and tempered
      const V x = flow.sample(rng);
      const S lp = flow.log_prob(x);
      const auto drawn = flow.sample_and_log_prob(rng);
      const S lp_drawn = flow.log_prob(drawn.value);
      const V x_cold = flow.sample(rng, S(0.5));
      const S lp_cold = flow.log_prob(x_cold, S(0.5));
      if (j == samples / 2) injected_allocation();

      for (int i = 0; i < D; ++i) {
        worst_round_trip = std::fmax(worst_round_trip, relative_error(back[i], z[i]));
        worst_round_trip = std::fmax(worst_round_trip, relative_error(bwd.value[i], z[i]));
        worst_round_trip = std::fmax(worst_round_trip, relative_error(via_inverse.value[i], z[i]));
        worst_round_trip = std::fmax(worst_round_trip, relative_error(fwd.value[i], y[i]));
        worst_round_trip = std::fmax(worst_round_trip, relative_error(y_prepared[i], y[i]));
      }
      worst_log_det = std::fmax(worst_log_det, relative_error(fwd.log_det, ld));
      worst_log_det = std::fmax(worst_log_det, relative_error(bwd.log_det, -ld));
      worst_log_det = std::fmax(worst_log_det, relative_error(ild, -ld));
      worst_log_det = std::fmax(worst_log_det, relative_error(via_inverse.log_det, -ld));
      worst_log_prob = std::fmax(worst_log_prob, relative_error(drawn.log_det, lp_drawn));
      checksum += lp + lp_cold + jac.sum() + x.sum() + x_cold.sum();
    }
    allocations = region.allocations();
    eigen_allocations = region.eigen_allocations();
  }
  std::printf("D = %d, %s: %ld samples, operator new calls %zu, Eigen heap allocations %zu, "
              "worst round trip %.3g, worst log-det %.3g, worst log-prob %.3g\n",
              D, sizeof(S) == 4 ? "float" : "double", samples, allocations, eigen_allocations, double(worst_round_trip),
              double(worst_log_det), double(worst_log_prob));
  check(allocations == 0, "operator new was called on the per-sample path");
  check(eigen_allocations == 0, "Eigen allocated on the heap on the per-sample path");
  check(worst_round_trip <= tol, "inverse(forward(z)) == z");
  check(worst_log_det <= tol, "the log-dets agree");
  check(worst_log_prob <= tol, "sample_and_log_prob agrees with log_prob");
  check(std::isfinite(double(checksum)), "the results are finite");
}

// The expressive layers: a spline coupling (MLP conditioner), MAF (sequential forward
// through MADE's sequential pass) and IAF with a residual MADE, raw and prepared.
using expressive = ft::compose<ft::Coupling<ft::Spline<8>, ft::MLP<16, 16>>, ft::Permute<ft::Reverse>,
                               ft::MaskedAutoregressive<ft::Affine, ft::MADE<16>>,
                               ft::InverseAutoregressive<ft::Spline<4>, ft::ResidualMADE<8, 1>>>;

template <int D, class S>
void run_expressive(long samples) {
  using B = ft::bind_t<expressive, D, S>;
  using V = ft::vector_t<B>;
  B b;
  ft::reset_parameters(b, 99, ft::init::uniform);
  const S tol = sizeof(S) == 4 ? S(1e-3) : S(1e-9);
  S worst(0), checksum(0);
  std::size_t allocations = 0, eigen_allocations = 0;
  {
    const counted_region region;
    const auto prepared = ft::prepare(b);
    for (long j = 0; j < samples; ++j) {
      ft::philox_stream rng(11, std::uint64_t(j));
      V z;
      for (int i = 0; i < D; ++i) z[i] = rng.normal<S>();
      const auto f = ft::forward_and_log_det(b, z);
      const auto g = ft::inverse_and_log_det(b, f.value);
      const auto fp = ft::forward_and_log_det(prepared, z);
      const auto gp = ft::inverse_and_log_det(prepared, fp.value);
      if (j == samples / 2) injected_allocation();
      for (int i = 0; i < D; ++i) {
        worst = std::fmax(worst, relative_error(g.value[i], z[i]));
        worst = std::fmax(worst, relative_error(gp.value[i], z[i]));
        worst = std::fmax(worst, relative_error(fp.value[i], f.value[i]));
      }
      worst = std::fmax(worst, relative_error(-g.log_det, f.log_det));
      worst = std::fmax(worst, relative_error(fp.log_det, f.log_det));
      checksum += f.log_det;
    }
    allocations = region.allocations();
    eigen_allocations = region.eigen_allocations();
  }
  std::printf("expressive layers, D = %d, %s: %ld samples, operator new calls %zu, Eigen heap allocations %zu, "
              "worst disagreement %.3g\n",
              D, sizeof(S) == 4 ? "float" : "double", samples, allocations, eigen_allocations, double(worst));
  check(allocations == 0, "operator new was called on the per-sample path of the expressive layers");
  check(eigen_allocations == 0, "Eigen allocated on the heap on the per-sample path of the expressive layers");
  check(worst <= tol, "the expressive layers round-trip and their prepared forms agree");
  check(std::isfinite(double(checksum)), "the expressive layers' results are finite");
}

// The controls: each counter sees a deliberate allocation.
[[gnu::noinline]] double use(const std::vector<double>& v) { return v.empty() ? 0.0 : v.back(); }
[[gnu::noinline]] double use(const Eigen::VectorXd& v) { return v.size() == 0 ? 0.0 : v[v.size() - 1]; }

void controls() {
  std::size_t allocations = 0, eigen_allocations = 0;
  double sink = 0;
  {
    const counted_region region;
    std::vector<double> v(64, 1.5);
    sink += use(v);
    allocations = region.allocations();
  }
  {
    const counted_region region;
    const Eigen::VectorXd v = Eigen::VectorXd::Constant(64, 2.5);  // malloc, through Eigen
    eigen_allocations = region.eigen_allocations();
    sink += use(v);
  }
  std::printf("controls: std::vector -> operator new calls %zu; Eigen::VectorXd -> Eigen heap allocations %zu (%s)\n",
              allocations, eigen_allocations, g_first_eigen_failure ? g_first_eigen_failure : "none");
  check(allocations >= 1, "the operator new counter saw the std::vector allocation");
  check(eigen_allocations >= 1, "EIGEN_RUNTIME_NO_MALLOC saw the Eigen::VectorXd allocation");
  check(sink == 4.0, "the controls' values");
  g_eigen_failures = 0;
  g_first_eigen_failure = nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--inject=vector") == 0) {
      g_inject = inject::vector;
    } else if (std::strcmp(argv[i], "--inject=eigen") == 0) {
      g_inject = inject::eigen;
    } else {
      std::fprintf(stderr, "usage: %s [--inject=vector|eigen]\n", argv[0]);
      return 2;
    }
  }
  // The OpenMP runtime initializes itself on its first call, which Eigen makes when a
  // product takes its general (GEMM) path (LUConv's prepare(), 8 x 8 x 8): LLVM's libomp
  // allocates there (its tool interface), once per process, outside flowtmpl. Started
  // here, before any counted region.
  g_sink = g_sink + Eigen::nbThreads();
  controls();
  run<8, float>(3000);
  run<5, double>(3000);
  run<1, double>(500);
  run_expressive<8, float>(1000);
  run_expressive<5, double>(1000);
  std::printf("operator new calls in total %zu, operator delete calls %zu\n", g_allocations, g_deallocations);
  if (g_failures != 0) {
    std::fprintf(stderr, "no_alloc_test: %d check(s) failed\n", g_failures);
    return 1;
  }
  std::puts("no_alloc_test: passed");
  return 0;
}
