// flowtmpl/host.hpp: the host (Eigen) backend: batch entry points.
//
// A batch is any Eigen expression with D rows and N columns, one sample per column, of
// the flow's scalar type: a Matrix<S, D, Dynamic>, a block of one, or an Eigen::Map.
// A user's N x D row-major buffer is the same memory as a D x N column-major matrix:
//   Eigen::Map<const Eigen::Matrix<S, D, Eigen::Dynamic>> x(buffer, D, N);
// (or, equivalently, the transpose of a row-major Map) and is read without a copy.
// An expression that has no such memory layout is evaluated once into a temporary.
//
//   forward(b, X)                -> D x N          inverse(b, Y)        -> D x N
//   log_det(b, X)                -> 1 x N          (log|det df/dx| per column)
//   forward_and_log_det(b, X)    -> {values, log_det}
//   inverse_and_log_det(b, Y)    -> {values, log_det}   (log|det df^-1/dy|)
//   log_prob(d, X)               -> 1 x N
//   sample(d, n, seed [, T])     -> D x n          sample j draws from philox_stream(seed, j)
//   sample_and_log_prob(d, n, seed [, T]) -> {values, log_prob}
//   initialize(b, X)             data-dependent initialisation (ActNorm) from data X,
//                                layer by layer in the normalizing direction
// Conditional flows (conditional.hpp) take a context batch Ctx, C x N or C x 1 (one
// context for all samples): forward(b, X, Ctx), inverse, forward_and_log_det,
// inverse_and_log_det, log_prob(d, X, Ctx), sample(d, n, seed, Ctx),
// sample_and_log_prob(d, n, seed, Ctx). Checked mode is not available for them yet.
//
// Layers with a conditioner (Coupling, the autoregressive layers) evaluate a block of
// 256 samples at once, the network as matrix-matrix products; a chain holding one is
// evaluated layer by layer over each block, other chains whole per column.
//
// Execution: the bijector is prepared once per call (flowtmpl::prepare), the constant
// part of the log-det is computed once per call, then columns are evaluated in fixed
// blocks of 256, in parallel with OpenMP when the program is built with it. Every
// column's result depends on that column only, so results are bitwise the same for any
// number of threads, and a NaN in one sample reaches that sample's outputs only.
//
// Unchecked (the default): no test of the values. Outside a layer's domain the
// results are what the layer's header says (inf or NaN in that sample); nothing
// crashes and nothing is read or written outside the batch. Shapes are checked always:
// a wrong number of rows throws flowtmpl::shape_error.
//
// Checked: pass flowtmpl::checked as the last argument. Samples are evaluated one at a
// time, layer by layer, and the first problem throws flowtmpl::domain_error naming the
// layer (position and name), the sample, the component and the value: invalid
// parameters (a layer's validate()), a non-finite input, an input outside a layer's
// domain, a non-finite output or log-det. Checked mode needs exceptions.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "detail/eigen.hpp"

#include "bijectors/inverse.hpp"
#include "chain.hpp"
#include "core.hpp"
#include "distributions/flow_distribution.hpp"
#include "exec.hpp"
#include "errors.hpp"

namespace flowtmpl {

struct checked_t {
  explicit checked_t() = default;
};
inline constexpr checked_t checked{};
struct unchecked_t {
  explicit unchecked_t() = default;
};
inline constexpr unchecked_t unchecked{};

template <class S, int D>
using batch_t = Eigen::Matrix<S, D, Eigen::Dynamic>;
template <class S>
using row_t = Eigen::Matrix<S, 1, Eigen::Dynamic>;

template <class S, int D>
struct batch_result {
  batch_t<S, D> values;
  row_t<S> log_det;
};

namespace detail {

inline constexpr Eigen::Index host_block = 256;

template <class S, int D>
using batch_ref = Eigen::Ref<const batch_t<S, D>, 0, Eigen::OuterStride<>>;

template <class T, class Derived>
batch_ref<typename T::scalar_type, T::dim> batch_view(const Eigen::MatrixBase<Derived>& x, const char* what) {
  using S = typename T::scalar_type;
  if constexpr (!std::is_same_v<typename Derived::Scalar, S>) {
    (void)sizeof(diagnostic::batch_scalar_differs_from_the_flows<typename Derived::Scalar, S, T>);
    return batch_ref<S, T::dim>(batch_t<S, T::dim>(T::dim, 0));
  } else if constexpr (Derived::RowsAtCompileTime != Eigen::Dynamic && Derived::RowsAtCompileTime != T::dim) {
    (void)sizeof(diagnostic::batch_rows_differ_from_the_flows_dimension<int(Derived::RowsAtCompileTime), T::dim, T>);
    return batch_ref<S, T::dim>(batch_t<S, T::dim>(T::dim, 0));
  } else {
    if (x.rows() != T::dim)
      fail_shape(message(what, ": the batch has ", x.rows(), " rows, the flow has dimension ", T::dim,
                         " (samples are columns)"));
    return batch_ref<S, T::dim>(x.derived());
  }
}

// Runs f(j) for every column j in fixed blocks, in parallel where OpenMP is on.
template <class F>
void for_each_column(Eigen::Index n, F&& f) {
  const Eigen::Index blocks = (n + host_block - 1) / host_block;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static)
#endif
  for (Eigen::Index b = 0; b < blocks; ++b) {
    const Eigen::Index end = (b + 1) * host_block < n ? (b + 1) * host_block : n;
    for (Eigen::Index j = b * host_block; j < end; ++j) f(j);
  }
}

// Runs f(block, first, count) for every block of columns, in parallel where OpenMP is
// on; returns the number of blocks.
template <class F>
Eigen::Index for_each_numbered_block(Eigen::Index n, F&& f) {
  const Eigen::Index blocks = (n + host_block - 1) / host_block;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static)
#endif
  for (Eigen::Index b = 0; b < blocks; ++b) {
    const Eigen::Index first = b * host_block;
    f(b, first, (first + host_block < n ? host_block : n - first));
  }
  return blocks;
}

// Runs f(first, count) for every block of columns, in parallel where OpenMP is on.
template <class F>
void for_each_block(Eigen::Index n, F&& f) {
  for_each_numbered_block(n, [&](Eigen::Index, Eigen::Index first, Eigen::Index count) { f(first, count); });
}

// ---- the block path: layers with a conditioner take a block of samples at once ----
template <class L, int D, class S>
inline constexpr bool has_forward_block_v =
    requires(const L& l, Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) {
      l.forward_block(V, ld);
    } ||
    requires(const L& l, Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
             const Eigen::Matrix<S, context_dim_of<L>(), Eigen::Dynamic>& C) { l.forward_block(V, ld, C); };
template <class L, int D, class S>
inline constexpr bool has_inverse_block_v =
    requires(const L& l, Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld) {
      l.inverse_block(V, ld);
    } ||
    requires(const L& l, Eigen::Matrix<S, D, Eigen::Dynamic>& V, Eigen::Matrix<S, 1, Eigen::Dynamic>& ld,
             const Eigen::Matrix<S, context_dim_of<L>(), Eigen::Dynamic>& C) { l.inverse_block(V, ld, C); };

template <class T>
struct is_inverse_of;

// Whether b (or a layer inside it) evaluates blocks of samples, or reads a context:
// then the host evaluates layer by layer over blocks of columns (eval_block); otherwise
// the whole chain per column, which keeps elementwise chains in registers.
template <class B>
consteval bool uses_blocks() {
  if constexpr (is_chain<B>::value) {
    return []<class... Ls>(Chain<Ls...>*) { return (uses_blocks<Ls>() || ...); }(static_cast<B*>(nullptr));
  } else if constexpr (is_inverse_of<B>::value) {
    return uses_blocks<typename B::base_type>();
  } else {
    using S = typename B::scalar_type;
    return has_forward_block_v<B, B::dim, S> || has_inverse_block_v<B, B::dim, S> || context_dim_of<B>() > 0;
  }
}

// V (D x n) through b in one direction, in place; the input-dependent log-dets are
// added to ld; Ctx is the context block (C x n) or nullptr.
template <bool Forward, class B, class CtxBlock>
void eval_block(const B& b, Eigen::Matrix<typename B::scalar_type, B::dim, Eigen::Dynamic>& V,
                Eigen::Matrix<typename B::scalar_type, 1, Eigen::Dynamic>& ld, const CtxBlock* Ctx) {
  using S = typename B::scalar_type;
  constexpr int D = B::dim;
  if constexpr (is_chain<B>::value) {
    if constexpr (Forward) {
      b.for_each_layer([&](const auto& layer) { eval_block<true>(layer, V, ld, Ctx); });
    } else {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((eval_block<false>(b.template get<B::size - 1 - I>(), V, ld, Ctx)), ...);
      }(std::make_index_sequence<B::size>{});
    }
  } else if constexpr (is_inverse_of<B>::value) {
    eval_block<!Forward>(b.base, V, ld, Ctx);
  } else if constexpr (Forward && has_forward_block_v<B, D, S>) {
    if constexpr (context_dim_of<B>() > 0)
      b.forward_block(V, ld, *Ctx);
    else
      b.forward_block(V, ld);
  } else if constexpr (!Forward && has_inverse_block_v<B, D, S>) {
    if constexpr (context_dim_of<B>() > 0)
      b.inverse_block(V, ld, *Ctx);
    else
      b.inverse_block(V, ld);
  } else {
    for (Eigen::Index j = 0; j < V.cols(); ++j) {
      const Eigen::Matrix<S, D, 1> v = V.col(j);
      if constexpr (context_dim_of<B>() > 0) {
        const Eigen::Matrix<S, context_dim_of<B>(), 1> c = Ctx->col(j);
        const auto r = Forward ? flowtmpl::forward_and_log_det(b, v, c) : flowtmpl::inverse_and_log_det(b, v, c);
        V.col(j) = r.value;
        ld[j] += r.log_det + (Forward ? -detail::constant_part(b) : detail::constant_part(b));
      } else {
        const auto r = Forward ? detail::forward_varying(b, v) : detail::inverse_varying(b, v);
        V.col(j) = r.value;
        ld[j] += r.log_det;
      }
    }
  }
}

// The context columns of a block: Ctx has n columns (one per sample) or one (shared).
template <class S, int C, class CtxRef>
Eigen::Matrix<S, C, Eigen::Dynamic> context_block(const CtxRef& ctx, Eigen::Index first, Eigen::Index count) {
  if (ctx.cols() == 1) return ctx.col(0).replicate(1, count);
  return ctx.middleCols(first, count);
}

template <class T>
auto prepared_on_heap(const T& t) {
  using P = decltype(flowtmpl::prepare(t));
  return std::make_unique<P>(flowtmpl::prepare(t));
}

template <class T>
struct is_flow_distribution : std::false_type {};
template <class Base, class B>
struct is_flow_distribution<FlowDistribution<Base, B>> : std::true_type {};

template <class T>
struct is_inverse_of : std::false_type {};
template <class B>
struct is_inverse_of<InverseBijector<B>> : std::true_type {};

// ---- checked mode ------------------------------------------------------------
#if FLOWTMPL_HAS_EXCEPTIONS
struct layer_path {
  int index[16];
  int depth = 0;
  int inversions = 0;
  std::string label(const char* name) const {
    std::string s = "layer ";
    for (int i = 0; i < depth; ++i) append_piece(s, message(i ? "." : "", index[i]));
    if (depth == 0) s.push_back('0');
    s.append(" (");
    for (int i = 0; i < inversions; ++i) s.append("Inverse<");
    s.append(name);
    for (int i = 0; i < inversions; ++i) s.push_back('>');
    s.push_back(')');
    return s;
  }
};

template <Bijector L>
void checked_leaf(const L& layer, bool forward_dir, vector_t<L>& v, typename L::scalar_type& ld, long sample,
                  const layer_path& path) {
  using S = typename L::scalar_type;
  const char* dir = forward_dir ? "forward" : "inverse";
  if constexpr (requires { layer.validate(); }) {
    if (const char* msg = layer.validate())
      fail_domain(message(path.label(L::name), ": invalid parameters: ", msg), path.label(L::name), sample, -1,
                  std::numeric_limits<double>::quiet_NaN());
  }
  const bool has_domain = forward_dir ? requires { L::forward_domain(); } : requires { L::inverse_domain(); };
  if (has_domain) {
    interval<S> dom;
    if constexpr (requires { L::forward_domain(); L::inverse_domain(); }) {
      dom = forward_dir ? L::forward_domain() : L::inverse_domain();
    } else if constexpr (requires { L::forward_domain(); }) {
      dom = L::forward_domain();
    } else if constexpr (requires { L::inverse_domain(); }) {
      dom = L::inverse_domain();
    }
    for (int i = 0; i < L::dim; ++i)
      if (!dom.contains(v[i]))
        fail_domain(message(path.label(L::name), ", sample ", sample, ", component ", i, ": value ", v[i],
                            " is outside the domain ", dom.to_string(), " of its ", dir, " direction"),
                    path.label(L::name), sample, i, double(v[i]));
  }
  const auto r = forward_dir ? flowtmpl::forward_and_log_det(layer, v) : flowtmpl::inverse_and_log_det(layer, v);
  for (int i = 0; i < L::dim; ++i)
    if (!std::isfinite(double(r.value[i])))
      fail_domain(message(path.label(L::name), ", sample ", sample, ", component ", i, ": the ", dir, " direction gave ",
                          r.value[i], " from the input ", v[i]),
                  path.label(L::name), sample, i, double(r.value[i]));
  if (!std::isfinite(double(r.log_det)))
    fail_domain(message(path.label(L::name), ", sample ", sample, ": the log-det of the ", dir, " direction is ",
                        r.log_det),
                path.label(L::name), sample, -1, double(r.log_det));
  v = r.value;
  ld += r.log_det;
}

template <Bijector B>
void checked_walk(const B& b, bool forward_dir, vector_t<B>& v, typename B::scalar_type& ld, long sample, layer_path path) {
  if constexpr (is_chain<B>::value) {
    auto step = [&](std::size_t i, const auto& layer) {
      layer_path p = path;
      if (p.depth < 16) p.index[p.depth++] = int(i);
      checked_walk(layer, forward_dir, v, ld, sample, p);
    };
    if (forward_dir) {
      b.for_each_layer([&](auto idx, const auto& layer) { step(idx.value, layer); });
    } else {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((step(B::size - 1 - I, b.template get<B::size - 1 - I>())), ...);
      }(std::make_index_sequence<B::size>{});
    }
  } else if constexpr (is_inverse_of<B>::value) {
    layer_path p = path;
    ++p.inversions;
    checked_walk(b.base, !forward_dir, v, ld, sample, p);
  } else {
    checked_leaf(b, forward_dir, v, ld, sample, path);
  }
}

template <Bijector B>
void check_input(const vector_t<B>& v, long sample) {
  for (int i = 0; i < B::dim; ++i)
    if (!std::isfinite(double(v[i])))
      fail_domain(message("input, sample ", sample, ", component ", i, ": value ", v[i], " is not finite"),
                  "input", sample, i, double(v[i]));
}

template <Bijector B>
result_t<B> checked_sample(const B& b, bool forward_dir, const vector_t<B>& x, long sample) {
  check_input<B>(x, sample);
  vector_t<B> v = x;
  typename B::scalar_type ld(0);
  checked_walk(b, forward_dir, v, ld, sample, layer_path{});
  return {v, ld};
}
#endif

template <class Mode>
constexpr void require_exceptions_for() {
  static_assert(std::is_same_v<Mode, unchecked_t> || FLOWTMPL_HAS_EXCEPTIONS,
                "flowtmpl: checked mode reports by exception and is not available with -fno-exceptions");
}

template <bool Forward, Bijector B, class Derived, class Mode>
batch_result<typename B::scalar_type, B::dim> run_bijector(const B& b, const Eigen::MatrixBase<Derived>& xin, Mode) {
  require_exceptions_for<Mode>();
  using S = typename B::scalar_type;
  const auto x = batch_view<B>(xin, Forward ? "forward" : "inverse");
  const Eigen::Index n = x.cols();
  batch_result<S, B::dim> out{batch_t<S, B::dim>(B::dim, n), row_t<S>(n)};
  if constexpr (std::is_same_v<Mode, checked_t>) {
#if FLOWTMPL_HAS_EXCEPTIONS
    for (Eigen::Index j = 0; j < n; ++j) {
      const auto r = checked_sample(b, Forward, vector_t<B>(x.col(j)), long(j));
      out.values.col(j) = r.value;
      out.log_det[j] = r.log_det;
    }
#endif
  } else if constexpr (uses_blocks<B>()) {
    const auto p = prepared_on_heap(b);
    const S c = detail::constant_part(*p);
    for_each_block(n, [&](Eigen::Index first, Eigen::Index count) {
      batch_t<S, B::dim> V = x.middleCols(first, count);
      row_t<S> ld = row_t<S>::Zero(count);
      eval_block<Forward>(*p, V, ld, static_cast<const batch_t<S, 1>*>(nullptr));
      out.values.middleCols(first, count) = V;
      out.log_det.segment(first, count) = ld.array() + (Forward ? c : -c);
    });
  } else {
    const auto p = prepared_on_heap(b);
    const S c = detail::constant_part(*p);
    for_each_column(n, [&](Eigen::Index j) {
      const vector_t<B> v = x.col(j);
      if constexpr (Forward) {
        const auto r = detail::forward_varying(*p, v);
        out.values.col(j) = r.value;
        out.log_det[j] = r.log_det + c;
      } else {
        const auto r = detail::inverse_varying(*p, v);
        out.values.col(j) = r.value;
        out.log_det[j] = r.log_det - c;
      }
    });
  }
  return out;
}

}  // namespace detail

template <Bijector B, class Derived, class Mode = unchecked_t>
batch_result<typename B::scalar_type, B::dim> forward_and_log_det(const B& b, const Eigen::MatrixBase<Derived>& x,
                                                                  Mode mode = Mode{}) {
  return detail::run_bijector<true>(b, x, mode);
}
template <Bijector B, class Derived, class Mode = unchecked_t>
batch_result<typename B::scalar_type, B::dim> inverse_and_log_det(const B& b, const Eigen::MatrixBase<Derived>& y,
                                                                  Mode mode = Mode{}) {
  return detail::run_bijector<false>(b, y, mode);
}

namespace detail {
// Values only, no log-det: the unchecked path skips the log-dets altogether.
template <bool Forward, Bijector B, class Derived, class Mode>
batch_t<typename B::scalar_type, B::dim> run_values(const B& b, const Eigen::MatrixBase<Derived>& in, Mode mode) {
  if constexpr (std::is_same_v<Mode, checked_t> || uses_blocks<B>()) {
    return run_bijector<Forward>(b, in, mode).values;
  } else {
    const auto x = batch_view<B>(in, Forward ? "forward" : "inverse");
    batch_t<typename B::scalar_type, B::dim> out(B::dim, x.cols());
    const auto p = prepared_on_heap(b);
    for_each_column(x.cols(), [&](Eigen::Index j) {
      const vector_t<B> v = x.col(j);
      if constexpr (Forward)
        out.col(j) = p->forward(v);
      else
        out.col(j) = p->inverse(v);
    });
    return out;
  }
}
}  // namespace detail

template <Bijector B, class Derived, class Mode = unchecked_t>
batch_t<typename B::scalar_type, B::dim> forward(const B& b, const Eigen::MatrixBase<Derived>& x, Mode mode = Mode{}) {
  return detail::run_values<true>(b, x, mode);
}
template <Bijector B, class Derived, class Mode = unchecked_t>
batch_t<typename B::scalar_type, B::dim> inverse(const B& b, const Eigen::MatrixBase<Derived>& y, Mode mode = Mode{}) {
  return detail::run_values<false>(b, y, mode);
}
template <Bijector B, class Derived, class Mode = unchecked_t>
row_t<typename B::scalar_type> log_det(const B& b, const Eigen::MatrixBase<Derived>& x, Mode mode = Mode{}) {
  return forward_and_log_det(b, x, mode).log_det;
}

// ---- distributions -------------------------------------------------------------

template <Distribution Dist, class Derived, class Mode = unchecked_t>
row_t<typename Dist::scalar_type> log_prob(const Dist& d, const Eigen::MatrixBase<Derived>& xin, Mode mode = Mode{}) {
  using S = typename Dist::scalar_type;
  if constexpr (detail::is_flow_distribution<Dist>::value) {
    const auto r = inverse_and_log_det(d.transform, xin, mode);
    row_t<S> lp(r.values.cols());
    detail::for_each_column(r.values.cols(), [&](Eigen::Index j) {
      lp[j] = d.base.log_prob(vector_t<Dist>(r.values.col(j))) + r.log_det[j];
    });
    return lp;
  } else {
    const auto x = detail::batch_view<Dist>(xin, "log_prob");
    row_t<S> lp(x.cols());
    detail::for_each_column(x.cols(), [&](Eigen::Index j) { lp[j] = d.log_prob(vector_t<Dist>(x.col(j))); });
    return lp;
  }
}

namespace detail {
// A flow distribution whose transform takes the block path.
template <class Dist>
consteval bool flow_uses_blocks() {
  if constexpr (is_flow_distribution<Dist>::value)
    return uses_blocks<typename Dist::transform_type>();
  else
    return false;
}

template <class Dist, class... T>
batch_result<typename Dist::scalar_type, Dist::dim> draw(const Dist& d, Eigen::Index n, std::uint64_t seed, bool with_lp,
                                                         const T&... temperature) {
  using S = typename Dist::scalar_type;
  if (n < 0) fail_shape("sample: the number of samples is negative");
  batch_result<S, Dist::dim> out{batch_t<S, Dist::dim>(Dist::dim, n), row_t<S>(with_lp ? n : 0)};
  if constexpr (flow_uses_blocks<Dist>()) {
    const auto p = prepared_on_heap(d.transform);
    const S c = detail::constant_part(*p);
    for_each_block(n, [&](Eigen::Index first, Eigen::Index count) {
      batch_t<S, Dist::dim> V(Dist::dim, count);
      row_t<S> lz(count);
      for (Eigen::Index j = 0; j < count; ++j) {
        philox_stream rng(seed, std::uint64_t(first + j));
        const vector_t<Dist> z = d.base.sample(rng, temperature...);
        V.col(j) = z;
        if (with_lp) lz[j] = d.base.log_prob(z, temperature...);
      }
      row_t<S> ld = row_t<S>::Zero(count);
      eval_block<true>(*p, V, ld, static_cast<const batch_t<S, 1>*>(nullptr));
      out.values.middleCols(first, count) = V;
      if (with_lp) out.log_det.segment(first, count) = lz.array() - (ld.array() + c);
    });
  } else if constexpr (is_flow_distribution<Dist>::value) {
    const auto p = prepared_on_heap(d.transform);
    const S c = detail::constant_part(*p);
    for_each_column(n, [&](Eigen::Index j) {
      philox_stream rng(seed, std::uint64_t(j));
      const vector_t<Dist> z = d.base.sample(rng, temperature...);
      const auto r = detail::forward_varying(*p, z);
      out.values.col(j) = r.value;
      if (with_lp) out.log_det[j] = d.base.log_prob(z, temperature...) - (r.log_det + c);
    });
  } else {
    for_each_column(n, [&](Eigen::Index j) {
      philox_stream rng(seed, std::uint64_t(j));
      const vector_t<Dist> x = d.sample(rng, temperature...);
      out.values.col(j) = x;
      if (with_lp) out.log_det[j] = d.log_prob(x, temperature...);
    });
  }
  return out;
}
}  // namespace detail

template <Distribution Dist>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist& d, Eigen::Index n, std::uint64_t seed) {
  return detail::draw(d, n, seed, false).values;
}
namespace detail {
template <class Dist>
consteval bool can_temper() {
  if constexpr (is_flow_distribution<Dist>::value)
    return TemperedDistribution<typename Dist::base_type>;
  else
    return TemperedDistribution<Dist>;
}
}  // namespace detail

template <Distribution Dist>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                      typename Dist::scalar_type temperature) {
  static_assert(detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  return detail::draw(d, n, seed, false, temperature).values;
}
// {samples, log_prob}: values and log_det (the log density) of the result.
template <Distribution Dist>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist& d, Eigen::Index n, std::uint64_t seed) {
  return detail::draw(d, n, seed, true);
}
template <Distribution Dist>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                                        typename Dist::scalar_type temperature) {
  static_assert(detail::can_temper<Dist>(),
                "flowtmpl: sampling at a temperature needs a base distribution with a scale (StandardNormal, "
                "DiagonalNormal: models of TemperedDistribution)");
  return detail::draw(d, n, seed, true, temperature);
}

// ---- conditional flows: a context per sample (C x N) or one for all (C x 1) -------

namespace detail {
template <class B, class Derived>
Eigen::Matrix<typename B::scalar_type, B::context_dim, Eigen::Dynamic> context_view(const Eigen::MatrixBase<Derived>& c,
                                                                                    Eigen::Index n, const char* what) {
  static_assert(std::is_same_v<typename Derived::Scalar, typename B::scalar_type>,
                "flowtmpl: the context batch's scalar type differs from the flow's scalar_type");
  if (c.rows() != B::context_dim)
    fail_shape(message(what, ": the context has ", c.rows(), " rows, the flow reads ", B::context_dim,
                       " context components (contexts are columns)"));
  if (c.cols() != n && c.cols() != 1)
    fail_shape(message(what, ": the context has ", c.cols(), " columns; it needs one per sample (", n,
                       ") or one for all"));
  return c;
}

template <bool Forward, class B, class DX, class DC>
batch_result<typename B::scalar_type, B::dim> run_conditional(const B& b, const Eigen::MatrixBase<DX>& xin,
                                                              const Eigen::MatrixBase<DC>& cin) {
  using S = typename B::scalar_type;
  constexpr int C = B::context_dim;
  const auto x = batch_view<B>(xin, Forward ? "forward" : "inverse");
  const Eigen::Index n = x.cols();
  const auto ctx = context_view<B>(cin, n, Forward ? "forward" : "inverse");
  batch_result<S, B::dim> out{batch_t<S, B::dim>(B::dim, n), row_t<S>(n)};
  const auto p = prepared_on_heap(b);
  const S c = detail::constant_part(*p);
  for_each_block(n, [&](Eigen::Index first, Eigen::Index count) {
    batch_t<S, B::dim> V = x.middleCols(first, count);
    const Eigen::Matrix<S, C, Eigen::Dynamic> cb = context_block<S, C>(ctx, first, count);
    row_t<S> ld = row_t<S>::Zero(count);
    eval_block<Forward>(*p, V, ld, &cb);
    out.values.middleCols(first, count) = V;
    out.log_det.segment(first, count) = ld.array() + (Forward ? c : -c);
  });
  return out;
}
}  // namespace detail

template <ConditionalBijector B, class DX, class DC>
batch_result<typename B::scalar_type, B::dim> forward_and_log_det(const B& b, const Eigen::MatrixBase<DX>& x,
                                                                  const Eigen::MatrixBase<DC>& context) {
  return detail::run_conditional<true>(b, x, context);
}
template <ConditionalBijector B, class DX, class DC>
batch_result<typename B::scalar_type, B::dim> inverse_and_log_det(const B& b, const Eigen::MatrixBase<DX>& y,
                                                                  const Eigen::MatrixBase<DC>& context) {
  return detail::run_conditional<false>(b, y, context);
}
template <ConditionalBijector B, class DX, class DC>
batch_t<typename B::scalar_type, B::dim> forward(const B& b, const Eigen::MatrixBase<DX>& x,
                                                 const Eigen::MatrixBase<DC>& context) {
  return detail::run_conditional<true>(b, x, context).values;
}
template <ConditionalBijector B, class DX, class DC>
batch_t<typename B::scalar_type, B::dim> inverse(const B& b, const Eigen::MatrixBase<DX>& y,
                                                 const Eigen::MatrixBase<DC>& context) {
  return detail::run_conditional<false>(b, y, context).values;
}

// log p(x_j | c_j) for every column j.
template <ConditionalDistribution Dist, class DX, class DC>
row_t<typename Dist::scalar_type> log_prob(const Dist& d, const Eigen::MatrixBase<DX>& x,
                                           const Eigen::MatrixBase<DC>& context) {
  using S = typename Dist::scalar_type;
  const auto r = inverse_and_log_det(d.transform, x, context);
  row_t<S> lp(r.values.cols());
  detail::for_each_column(r.values.cols(), [&](Eigen::Index j) {
    lp[j] = d.base.log_prob(vector_t<Dist>(r.values.col(j))) + r.log_det[j];
  });
  return lp;
}

// n samples of x | c: sample j draws its base point from philox_stream(seed, j) and
// reads context column j (or the one column for all). Values and log p(x | c).
template <ConditionalDistribution Dist, class DC>
batch_result<typename Dist::scalar_type, Dist::dim> sample_and_log_prob(const Dist& d, Eigen::Index n,
                                                                        std::uint64_t seed,
                                                                        const Eigen::MatrixBase<DC>& context) {
  using S = typename Dist::scalar_type;
  if (n < 0) detail::fail_shape("sample: the number of samples is negative");
  batch_t<S, Dist::dim> z(Dist::dim, n);
  row_t<S> lz(n);
  detail::for_each_column(n, [&](Eigen::Index j) {
    philox_stream rng(seed, std::uint64_t(j));
    const vector_t<Dist> zj = d.base.sample(rng);
    z.col(j) = zj;
    lz[j] = d.base.log_prob(zj);
  });
  auto r = forward_and_log_det(d.transform, z, context);
  r.log_det = lz - r.log_det;
  return r;
}
template <ConditionalDistribution Dist, class DC>
batch_t<typename Dist::scalar_type, Dist::dim> sample(const Dist& d, Eigen::Index n, std::uint64_t seed,
                                                      const Eigen::MatrixBase<DC>& context) {
  return sample_and_log_prob(d, n, seed, context).values;
}

// ---- data-dependent initialisation ----------------------------------------------

namespace detail {
template <class B, class M>
void init_walk(B& b, bool normalizing, M& batch) {
  // `batch` enters the layer from its data side (normalizing) or its base side, and
  // leaves it transformed.
  if constexpr (is_chain<B>::value) {
    if (normalizing) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((init_walk(b.template get<B::size - 1 - I>(), true, batch)), ...);
      }(std::make_index_sequence<B::size>{});
    } else {
      b.for_each_layer([&](auto& layer) { init_walk(layer, false, batch); });
    }
  } else if constexpr (is_inverse_of<B>::value) {
    init_walk(b.base, !normalizing, batch);
  } else {
    if (normalizing) {
      if constexpr (requires { b.initialize_inverse(batch); }) b.initialize_inverse(batch);
      batch = flowtmpl::inverse(b, batch);
    } else {
      if constexpr (requires { b.initialize_forward(batch); }) b.initialize_forward(batch);
      batch = flowtmpl::forward(b, batch);
    }
  }
}
}  // namespace detail

// Data-dependent initialisation from data X (D x N, the data side of b): every layer
// that has one (ActNorm) is initialised from what reaches it in the normalizing
// direction, in order from the data side.
template <Bijector B, class Derived>
void initialize(B& b, const Eigen::MatrixBase<Derived>& xin) {
  batch_t<typename B::scalar_type, B::dim> batch = detail::batch_view<B>(xin, "initialize");
  detail::init_walk(b, true, batch);
}
template <Distribution Dist, class Derived>
  requires detail::is_flow_distribution<Dist>::value
void initialize(Dist& d, const Eigen::MatrixBase<Derived>& xin) {
  initialize(d.transform, xin);
}

// ---- the same entry points with the policy first (flowtmpl/exec.hpp) ----------------
// forward(exec::host, b, x, ...) is forward(b, x, ...): code written for a backend
// chosen by a template parameter names the policy in every call.
#define FLOWTMPL_HOST_POLICY_OVERLOAD(fn)                                         \
  template <class T, class... A>                                                  \
  auto fn(exec::host_t, T&& t, A&&... a)->decltype(flowtmpl::fn(std::forward<T>(t), std::forward<A>(a)...)) { \
    return flowtmpl::fn(std::forward<T>(t), std::forward<A>(a)...);               \
  }
FLOWTMPL_HOST_POLICY_OVERLOAD(forward)
FLOWTMPL_HOST_POLICY_OVERLOAD(inverse)
FLOWTMPL_HOST_POLICY_OVERLOAD(forward_and_log_det)
FLOWTMPL_HOST_POLICY_OVERLOAD(inverse_and_log_det)
FLOWTMPL_HOST_POLICY_OVERLOAD(log_det)
FLOWTMPL_HOST_POLICY_OVERLOAD(log_prob)
FLOWTMPL_HOST_POLICY_OVERLOAD(sample)
FLOWTMPL_HOST_POLICY_OVERLOAD(sample_and_log_prob)
#undef FLOWTMPL_HOST_POLICY_OVERLOAD

}  // namespace flowtmpl
