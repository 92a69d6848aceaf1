// flowtmpl/testing/bad_input_sweeper.hpp: the checks of the bad-input sweep
// (testing/bad_input.hpp, which states them), detail::sweeper<T>: the mixed batches of
// one input class (mixed, place), the batch sizes (sizes), the shapes, contexts and views
// (layouts) and the draws (sampling), each entry point called through run_entry (a batch)
// or run_member (one sample).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "../detail/eigen.hpp"

#include "../errors.hpp"
#include "../host.hpp"
#include "../random.hpp"
#include "bad_input_options.hpp"
#include "report.hpp"
#include "sweep.hpp"

namespace flowtmpl::testing {

namespace detail {

using flowtmpl::detail::message;

enum class entry { forward, inverse, forward_and_log_det, inverse_and_log_det, log_det, log_prob };
inline const char* entry_name(entry e) {
  constexpr const char* names[] = {"forward", "inverse", "forward_and_log_det", "inverse_and_log_det", "log_det",
                                   "log_prob"};
  return names[int(e)];
}
inline bool data_side(entry e) { return e == entry::inverse || e == entry::inverse_and_log_det || e == entry::log_prob; }
template <class S>
using table = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
constexpr bool is_flow_v = flowtmpl::detail::is_flow_distribution<T>::value;
template <class T>
const auto& transform_of(const T& t) {
  if constexpr (is_flow_v<T>)
    return t.transform;
  else
    return t;
}
template <class T>
std::vector<entry> entries_of() {
  std::vector<entry> e{entry::forward, entry::inverse, entry::forward_and_log_det, entry::inverse_and_log_det,
                       entry::log_det};
  if constexpr (is_flow_v<T>) e.push_back(entry::log_prob);
  return e;
}
template <class S, class R>
table<S> stacked(const R& r) {
  table<S> o(r.values.rows() + 1, r.values.cols());
  if (o.cols() == 0) return o;  // (a block of a matrix without storage offsets a null pointer)
  o.topRows(r.values.rows()) = r.values;
  o.bottomRows(1) = r.log_det;
  return o;
}
// One batch entry point: the values (D rows) and / or the log-det or log density (1 row).
template <class T, class X, class M, class... C>
table<typename T::scalar_type> run_entry(entry e, const T& d, const X& x, M m, const C&... c) {
  using S = typename T::scalar_type;
  const auto& t = transform_of(d);
  switch (e) {
    case entry::forward: return flowtmpl::forward(t, x, c..., m);
    case entry::inverse: return flowtmpl::inverse(t, x, c..., m);
    case entry::forward_and_log_det: return stacked<S>(flowtmpl::forward_and_log_det(t, x, c..., m));
    case entry::inverse_and_log_det: return stacked<S>(flowtmpl::inverse_and_log_det(t, x, c..., m));
    case entry::log_det: return flowtmpl::log_det(t, x, c..., m);
    case entry::log_prob:
      if constexpr (is_flow_v<T>) return flowtmpl::log_prob(d, x, c..., m);
  }
  return {};
}
// The same through the per-sample members, for one column (c: its context).
template <class T, class... C>
Eigen::Matrix<typename T::scalar_type, Eigen::Dynamic, 1> run_member(entry e, const T& d, const vector_t<T>& x,
                                                                     const C&... c) {
  using V = Eigen::Matrix<typename T::scalar_type, Eigen::Dynamic, 1>;
  const auto& t = transform_of(d);
  auto both = [](const auto& r) {  // (element by element: g++ 12 -O3 warns falsely on a
    V o(r.value.size() + 1);         // packet copy out of a 2-float value)
    for (Eigen::Index i = 0; i < r.value.size(); ++i) o[i] = r.value[i];
    o[r.value.size()] = r.log_det;
    return o;
  };
  switch (e) {
    case entry::forward: return t.forward(x, c...);
    case entry::inverse: return t.inverse(x, c...);
    case entry::forward_and_log_det: return both(flowtmpl::forward_and_log_det(t, x, c...));
    case entry::inverse_and_log_det: return both(flowtmpl::inverse_and_log_det(t, x, c...));
    case entry::log_det: return V::Constant(1, t.log_det(x, c...));
    case entry::log_prob:
      if constexpr (is_flow_v<T>) return V::Constant(1, d.log_prob(x, c...));
  }
  return {};
}
template <class S>
std::int64_t ulps(S a, S b) {
  if (a == b) return 0;
  if (!std::isfinite(a) || !std::isfinite(b)) return std::numeric_limits<std::int64_t>::max();
  using I = std::conditional_t<sizeof(S) == 4, std::int32_t, std::int64_t>;
  I ia, ib;
  std::memcpy(&ia, &a, sizeof(S));
  std::memcpy(&ib, &b, sizeof(S));
  auto line = [](I i) { return i < 0 ? -double(i & std::numeric_limits<I>::max()) : double(i); };
  const double d = std::abs(line(ia) - line(ib));
  return d > 9e18 ? std::numeric_limits<std::int64_t>::max() : std::int64_t(d);
}
template <class A, class B>
bool same_bits(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i)
      if (!(a(i, j) == b(i, j) && std::signbit(a(i, j)) == std::signbit(b(i, j))) && !(a(i, j) != a(i, j) && b(i, j) != b(i, j)))
        return false;
  return true;
}
// What f() throws, as text: "" when it returns.
template <class Ex, class F>
std::string thrown_text(F&& f, bool& other) {
  other = false;
  try {
    f();
  } catch (const Ex& e) {
    return std::string(e.what()).empty() ? " " : e.what();
  } catch (const std::exception& e) {
    other = true;
    return e.what();
  }
  return "";
}

// One sweep: its options, report and the flow's pieces.
template <class T>
struct sweeper {
  using S = typename T::scalar_type;
  static constexpr int D = T::dim;
  static constexpr int C = context_dim_of<T>();
  using Tr = std::remove_cvref_t<decltype(transform_of(std::declval<const T&>()))>;
  using Ctx = Eigen::Matrix<S, (C > 0 ? C : 1), Eigen::Dynamic>;
  const T& d;
  const bad_input_options<S>& opt;
  bad_input_report& rep;
  double worst_rel = 0;
  std::int64_t worst_ulp = 0;

  void fail(const std::string& check, bool ok, const std::string& what) {
    rep.checks.expect(check, ok, rep.family + ", " + what);
    if (!ok) rep.failures.push_back(check + ": " + rep.family + ", " + what);
  }

  // ordinary base-side columns (uniform in [-3, 3] cut to the forward domain) and their images
  batch_t<S, D> ordinary(Eigen::Index n, std::uint64_t stream, bool data) const {
    const interval<S> dom = testing::detail::domain_of<direction::forward, Tr>();
    S lo = S(-3), hi = S(3);
    const S m = (std::min(hi, dom.hi) - std::max(lo, dom.lo)) * S(0.02);
    lo = std::max(lo, dom.lo + m);
    hi = std::min(hi, dom.hi - m);
    philox_stream rng(opt.seed, stream);
    batch_t<S, D> z(D, n);
    for (Eigen::Index j = 0; j < n; ++j)
      for (int i = 0; i < D; ++i) z(i, j) = lo + (hi - lo) * rng.uniform<S>();
    if (!data) return z;
    return with(ordinary_contexts(n), [&](const auto&... k) { return batch_t<S, D>(flowtmpl::forward(transform_of(d), z, k...)); });
  }
  Ctx ordinary_contexts(Eigen::Index n) const {
    philox_stream rng(opt.seed, 99);
    Ctx c(C > 0 ? C : 1, n);
    for (Eigen::Index j = 0; j < n; ++j)
      for (Eigen::Index i = 0; i < c.rows(); ++i) c(i, j) = opt.context_lo + (opt.context_hi - opt.context_lo) * rng.uniform<S>();
    return c;
  }
  // calls f(ctx...) with the contexts of a conditional flow, f() otherwise
  template <class F>
  auto with(const Ctx& c, F&& f) const {
    if constexpr (C > 0)
      return f(c);
    else
      return (void)c, f();
  }

  bool in_domain(entry e, const vector_t<T>& x) const {
    const interval<S> dom = data_side(e) ? testing::detail::domain_of<direction::inverse, Tr>()
                                         : testing::detail::domain_of<direction::forward, Tr>();
    for (int i = 0; i < D; ++i)
      if (!dom.contains(x[i]) || std::abs(x[i]) > opt.unchecked_finite_bound) return false;
    return true;
  }

  // The refusal e thrown by checked mode on a batch whose column `expected` is the first
  // refused alone, and whose bad columns are marked.
  void check_refusal(const std::string& where, const domain_error& e, Eigen::Index expected, const std::vector<bool>& bad) {
    const std::string w = e.what();
    const bool quantity = w.find("component") != std::string::npos || w.find("log-det") != std::string::npos ||
                          w.find("log density") != std::string::npos || w.find("solve") != std::string::npos;
    fail("checked.message",
         !e.layer.empty() && w.find(e.layer) != std::string::npos &&
             w.find(message("sample ", e.sample)) != std::string::npos && quantity,
         message(where, ": the message lacks its layer '", e.layer, "', 'sample ", e.sample, "' or the quantity: ", w));
    fail("checked.message", e.sample == expected && e.sample >= 0 && e.sample < long(bad.size()) && bad[std::size_t(e.sample)],
         message(where, ": refused at sample ", e.sample, ", the first column refused alone is ", expected, ": ", w));
  }

  // The mixed batch x (contexts c) of input class `label`: columns with bad[j] hold it.
  void mixed(entry e, const std::string& label, const batch_t<S, D>& x, const Ctx& c, const batch_t<S, D>& xr,
             const Ctx& cr, const std::vector<bool>& bad) {
    const std::string name = entry_name(e);
    const Eigen::Index n = x.cols();
    std::vector<table<S>> alone(static_cast<std::size_t>(n));
    std::vector<std::string> refusal(static_cast<std::size_t>(n));
    Eigen::Index first_refused = -1;
    for (Eigen::Index j = 0; j < n; ++j) {
      const Ctx cj = c.col(c.cols() == 1 ? 0 : j);
      try {
        alone[std::size_t(j)] = with(cj, [&](const auto&... k) { return run_entry(e, d, batch_t<S, D>(x.col(j)), checked, k...); });
      } catch (const domain_error& ex) {
        refusal[std::size_t(j)] = ex.what();
        if (first_refused < 0) first_refused = j;
      }
    }
    const std::string where = message(name, " | checked | ", label);
    std::string outcome;
    try {
      const table<S> r = with(c, [&](const auto&... k) { return run_entry(e, d, x, checked, k...); });
      fail("checked.refuses", r.allFinite(), message(where, ": returned non-finite values without throwing"));
      fail("checked.message", first_refused < 0, message(where, ": returned, but column ", first_refused,
                                                         " alone is refused: ", first_refused < 0 ? "" : refusal[std::size_t(first_refused)]));
      outcome = r.allFinite() ? "finite" : "NON-FINITE without a refusal";
    } catch (const domain_error& ex) {
      check_refusal(where, ex, first_refused, bad);
      outcome = message("refused: ", ex.what());
    }
    rep.outcomes.push_back(message(where, ": ", outcome));
    const table<S> u = with(c, [&](const auto&... k) { return run_entry(e, d, x, unchecked, k...); });
    const table<S> ur = with(cr, [&](const auto&... k) { return run_entry(e, d, xr, unchecked, k...); });
    int finite_cols = 0, member_finite = 0;
    for (Eigen::Index j = 0; j < n; ++j) {
      const std::string col = message(name, " | ", label, " | column ", j, " ", show(x.col(j)));
      const auto m = with(Ctx(c.col(c.cols() == 1 ? 0 : j)), [&](const auto&... k) {
        if constexpr (C > 0)
          return run_member(e, d, x.col(j), Eigen::Matrix<S, C, 1>(k.col(0))...);
        else
          return run_member(e, d, x.col(j));
      });
      finite_cols += u.col(j).allFinite();
      member_finite += m.allFinite();
      if (!bad[std::size_t(j)])
        fail("isolation", same_bits(u.col(j), ur.col(j)),
             message(col, ": unchecked ", show(u.col(j)), " beside bad columns, ", show(ur.col(j)), " without them"));
      const bool finite_in =
          in_domain(e, x.col(j)) &&
          (C == 0 || (c.col(c.cols() == 1 ? 0 : j).array().abs() <= opt.unchecked_finite_bound).all());
      if (finite_in) {
        fail("unchecked.finite", u.col(j).allFinite(), message(col, " | unchecked batch: ", show(u.col(j))));
        fail("unchecked.finite", m.allFinite(), message(col, " | unchecked per sample: ", show(m)));
      }
      if (!refusal[std::size_t(j)].empty()) continue;
      const table<S>& a = alone[std::size_t(j)];
      agree(col + " | unchecked batch", a.col(0), u.col(j));
      agree(col + " | unchecked per sample", a.col(0), m);
    }
    rep.outcomes.push_back(message(name, " | unchecked | ", label, ": ", finite_cols, " of ", n, " columns finite (",
                                   member_finite, " per sample)"));
  }

  template <class A, class B>
  void agree(const std::string& where, const A& a, const B& b) {
    bool ok = a.size() == b.size() && b.allFinite();
    for (Eigen::Index i = 0; ok && i < a.size(); ++i) {
      const double rel = std::abs(double(a[i]) - double(b[i])) / std::max({1.0, std::abs(double(a[i]))});
      worst_rel = std::max(worst_rel, rel);
      worst_ulp = std::max(worst_ulp, ulps(a[i], b[i]));
      ok = rel <= double(opt.agreement_tol);
    }
    fail("unchecked.agrees", ok, message(where, ": ", show(b), ", checked mode gives ", show(a)));
  }

  // value v in every component of one column, then in each of max_components components
  // alone, between ordinary columns; into the inputs (in_context false) or the contexts
  void place(entry e, const std::string& label, S v, bool in_context) {
    const int rows = in_context ? C : D;
    std::vector<int> comps;
    const int k = std::min(rows, std::max(1, opt.max_components));
    for (int i = 0; i < k; ++i) comps.push_back(int((long(i) * (rows - 1)) / std::max(1, k - 1)));
    const Eigen::Index n = 2 * Eigen::Index(comps.size()) + 3;
    const batch_t<S, D> xr = ordinary(n, data_side(e) ? 11 : 10, data_side(e));
    const Ctx cr = ordinary_contexts(n);
    batch_t<S, D> x = xr;
    Ctx c = cr;
    std::vector<bool> bad(std::size_t(n), false);
    for (std::size_t p = 0; p <= comps.size(); ++p) {
      const Eigen::Index j = 2 * Eigen::Index(p) + 1;
      bad[std::size_t(j)] = true;
      auto put = [&](auto col) {
        if (p == 0)
          col.setConstant(v);
        else
          col[comps[p - 1]] = v;
      };
      in_context ? put(c.col(j)) : put(x.col(j));
    }
    mixed(e, message(in_context ? "context " : "input ", label), x, c, xr, cr, bad);
  }

  void throws_shape(const std::string& where, const std::string& fn, const std::function<void()>& f) {
    bool other = false;
    const std::string w = thrown_text<shape_error>(f, other);
    fail("shape", !w.empty() && !other && w.rfind(fn + ":", 0) == 0,
         message(where, ": ", w.empty() ? "no exception" : (other ? "another exception: " : "shape_error: ") + w,
                 " (wanted a shape_error starting with '", fn, ":')"));
  }

  template <class M>
  void sizes(entry e, M mode, const char* mode_name) {
    const std::string name = entry_name(e);
    // checked mode runs serially: its largest batch is 257 columns
    const Eigen::Index big = std::is_same_v<M, checked_t> ? 257 : std::max<Eigen::Index>(opt.large_batch, 257);
    const batch_t<S, D> x = ordinary(big, data_side(e) ? 21 : 20, data_side(e));
    const Ctx c = ordinary_contexts(x.cols());
    auto run = [&](const auto& xv, const Ctx& cv) { return with(cv, [&](const auto&... k) { return run_entry(e, d, xv, mode, k...); }); };
    const table<S> whole = run(x, c);
    for (Eigen::Index n : {Eigen::Index(0), Eigen::Index(1), Eigen::Index(2), Eigen::Index(257)}) {
      const table<S> r = run(batch_t<S, D>(x.leftCols(n)), Ctx(c.leftCols(n)));
      // checked mode is per sample: bitwise; unchecked blocks of 128 may round otherwise
      bool ok = r.cols() == n && r.rows() == whole.rows() && r.allFinite();
      for (Eigen::Index j = 0; ok && j < n; ++j)
        for (Eigen::Index i = 0; ok && i < r.rows(); ++i)
          ok = std::is_same_v<M, checked_t> ? same_bits(r.col(j), whole.col(j))
                                            : std::abs(double(r(i, j)) - double(whole(i, j))) <=
                                                  double(opt.agreement_tol) * std::max(1.0, std::abs(double(whole(i, j))));
      fail("batch_size", ok, message(name, " | ", mode_name, " | ", n, " ordinary columns: not finite, or not the first ", n,
                                     " of ", x.cols(), std::is_same_v<M, checked_t> ? " bitwise" : " within agreement_tol"));
    }
    if constexpr (std::is_same_v<M, unchecked_t>) {
      const table<S> k = run(batch_t<S, D>(x.leftCols(257)), Ctx(c.leftCols(257)));
      const table<S> ck = with(Ctx(c.leftCols(257)), [&](const auto&... q) { return run_entry(e, d, batch_t<S, D>(x.leftCols(257)), checked, q...); });
      for (Eigen::Index j = 0; j < 257; ++j) agree(message(name, " | 257 ordinary columns | column ", j), ck.col(j), k.col(j));
    }
  }

  // wrong row counts (a dynamic-size matrix), contexts, one context for all, views
  template <class M>
  void layouts(entry e, M mode, const char* mode_name) {
    const std::string name = entry_name(e);
    const batch_t<S, D> x = ordinary(257, data_side(e) ? 21 : 20, data_side(e));
    const Ctx c = ordinary_contexts(x.cols());
    for (int rows : {D + 1, D - 1, 0}) {
      if (rows < 0) continue;
      const table<S> w = table<S>::Zero(rows, 3);
      throws_shape(message(name, " | ", mode_name, " | a batch of ", rows, " rows"), name,
                   [&] { (void)with(Ctx(c.leftCols(3)), [&](const auto&... k) { return run_entry(e, d, w, mode, k...); }); });
    }
    if constexpr (C > 0) {
      for (int rows : {C + 1, C - 1}) {
        const table<S> w = table<S>::Zero(rows, 3);
        throws_shape(message(name, " | ", mode_name, " | a context of ", rows, " rows"), name,
                     [&] { (void)run_entry(e, d, batch_t<S, D>(x.leftCols(3)), mode, w); });
      }
      throws_shape(message(name, " | ", mode_name, " | 4 contexts for 3 columns"), name,
                   [&] { (void)run_entry(e, d, batch_t<S, D>(x.leftCols(3)), mode, Ctx(c.leftCols(4))); });
      const Ctx one = c.col(5);
      fail("one_context", same_bits(run_entry(e, d, batch_t<S, D>(x.leftCols(257)), mode, one), run_entry(e, d, batch_t<S, D>(x.leftCols(257)), mode, Ctx(one.replicate(1, 257)))),
           message(name, " | ", mode_name, " | one context for 257 columns differs from its 257 copies"));
    }
    // the views: the three ways a batch is taken in (forward's values-only path, the
    // path with the log-det, log_prob), unchecked (the view is taken before the mode matters)
    if constexpr (std::is_same_v<M, unchecked_t>) {
      if (e == entry::forward) views<entry::forward>(x, c);
      if (e == entry::inverse_and_log_det) views<entry::inverse_and_log_det>(x, c);
      if constexpr (is_flow_v<T>)
        if (e == entry::log_prob) views<entry::log_prob>(x, c);
    }
  }

  // strided and row-major views of the first 257 columns through entry point E
  template <entry E>
  void views(const batch_t<S, D>& x, const Ctx& c) {
    const std::string name = entry_name(E);
    const char* mode_name = "unchecked";
    const auto mode = unchecked;
    auto run = [&](const auto& xv, const Ctx& cv) {
      return with(cv, [&](const auto&... k) -> table<S> {
        if constexpr (E == entry::forward)
          return flowtmpl::forward(transform_of(d), xv, k..., mode);
        else if constexpr (E == entry::inverse_and_log_det)
          return stacked<S>(flowtmpl::inverse_and_log_det(transform_of(d), xv, k..., mode));
        else
          return flowtmpl::log_prob(d, xv, k..., mode);
      });
    };
    const Eigen::Index n = 257;
    const batch_t<S, D> plain = x.leftCols(n);
    const Ctx cn = c.leftCols(n);
    const table<S> want = run(plain, cn);
    // component i of column j at 2 i + (2 D + 1) j, NaN between
    std::vector<S> spaced(std::size_t((2 * D + 1) * n), std::numeric_limits<S>::quiet_NaN());
    for (Eigen::Index j = 0; j < n; ++j)
      for (int i = 0; i < D; ++i) spaced[std::size_t(2 * i + (2 * D + 1) * j)] = plain(i, j);
    using OuterMap = Eigen::Map<const Eigen::Matrix<S, D, Eigen::Dynamic>, 0, Eigen::OuterStride<>>;
    using StridedMap = Eigen::Map<const Eigen::Matrix<S, D, Eigen::Dynamic>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
    const table<S> tall = [&] { table<S> t = table<S>::Zero(D + 3, n); t.middleRows(1, D) = plain; return t; }();
    const batch_t<S, D> padded = [&] { batch_t<S, D> p = batch_t<S, D>::Zero(D, n + 6); p.middleCols(3, n) = plain; return p; }();
    const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = plain;
    auto view = [&](const char* what, const table<S>& r) {
      fail("views", same_bits(r, want), message(name, " | ", mode_name, " | 257 columns as ", what, ": not bitwise the plain matrix's"));
    };
    view("a Map with an outer stride", run(OuterMap(tall.data() + 1, D, n, Eigen::OuterStride<>(D + 3)), cn));
    view("a Map with an inner stride", run(StridedMap(spaced.data(), D, n, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(2 * D + 1, 2)), cn));
    view(".block()", run(tall.block(1, 0, D, n), cn));
    view(".middleCols()", run(padded.middleCols(3, n), cn));
    view("a row-major matrix", run(row_major, cn));
    if constexpr (C > 0) {
      const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> crm = cn;
      fail("views", same_bits(with(cn, [&](const auto&) { return run_entry(E, d, plain, mode, crm); }), want),
           message(name, " | ", mode_name, " | a row-major context: not bitwise the plain matrix's"));
    }
  }

  void sampling() {
    if constexpr (is_flow_v<T>) {
      const Eigen::Index big = std::max<Eigen::Index>(opt.large_batch, 257);
      const Ctx c = ordinary_contexts(big);
      const auto all = with(c, [&](const auto&... k) { return flowtmpl::sample_and_log_prob(d, big, opt.seed, k...); });
      const interval<S> dom = testing::detail::domain_of<direction::forward, Tr>();
      int bad = 0;
      for (Eigen::Index j = 0; j < big; ++j) {
        philox_stream rng(opt.seed, std::uint64_t(j));
        const vector_t<T> z = d.base.sample(rng);
        bool inside = true;
        for (int i = 0; i < D; ++i) inside = inside && dom.contains(z[i]);
        if (inside && !(all.values.col(j).allFinite() && std::isfinite(all.log_det[j]))) ++bad;
      }
      fail("sample", bad == 0, message("sample_and_log_prob | ", big, " draws: ", bad, " non-finite from base points in the domain"));
      for (Eigen::Index n : {Eigen::Index(0), Eigen::Index(1), Eigen::Index(2), Eigen::Index(257)}) {
        const Ctx cn = c.leftCols(n);
        const auto s = with(cn, [&](const auto&... k) { return flowtmpl::sample(d, n, opt.seed, k...); });
        const auto sl = with(cn, [&](const auto&... k) { return flowtmpl::sample_and_log_prob(d, n, opt.seed, k...); });
        bool ok = same_bits(sl.values, s) && s.cols() == n && sl.log_det.cols() == n;
        for (Eigen::Index j = 0; ok && j < n; ++j)
          for (int i = 0; ok && i <= D; ++i) {
            const S a = i < D ? s(i, j) : sl.log_det[j], b = i < D ? all.values(i, j) : all.log_det[j];
            ok = std::abs(double(a) - double(b)) <= double(opt.agreement_tol) * std::max(1.0, std::abs(double(b)));
          }
        fail("sample", ok, message("sample, sample_and_log_prob | n = ", n, ": the two differ, or not the first columns of n = ",
                                   big, " within agreement_tol"));
      }
      for (const char* fn : {"sample", "sample_and_log_prob"}) {
        const std::string f = fn;
        auto draw = [&](Eigen::Index n, auto... t) {
          with(c.leftCols(1), [&](const auto&... k) {
            if (f == "sample") return (void)flowtmpl::sample(d, n, opt.seed, k..., t...);
            return (void)flowtmpl::sample_and_log_prob(d, n, opt.seed, k..., t...);
          });
        };
        throws_shape(f + " | n = -1", f, [&] { draw(-1); });
        if constexpr (C > 0)
          throws_shape(f + " | a context of " + std::to_string(C + 1) + " rows", f, [&] {
            const table<S> w = table<S>::Zero(C + 1, 1);
            if (f == "sample") return (void)flowtmpl::sample(d, 2, opt.seed, w);
            (void)flowtmpl::sample_and_log_prob(d, 2, opt.seed, w);
          });
        if constexpr (flowtmpl::detail::can_temper<T>()) {
          for (S t : {std::numeric_limits<S>::quiet_NaN(), std::numeric_limits<S>::infinity(), S(0), S(-1)}) {
            bool other = false;
            const std::string w = thrown_text<argument_error>([&] { draw(3, t); }, other);
            fail("sample", !w.empty() && !other && w.rfind(f + ":", 0) == 0,
                 message(f, " | temperature ", double(t), ": ", w.empty() ? std::string("accepted") : w,
                         " (wanted an argument_error starting with '", f, ":')"));
          }
        }
      }
      if constexpr (C > 0) {  // a bad context in one column leaves the others' draws as they were
        const Eigen::Index n = 260;
        Ctx cb = c.leftCols(n);
        cb(0, 255) = std::numeric_limits<S>::quiet_NaN();
        cb.col(256).setConstant(std::numeric_limits<S>::infinity());
        const auto s = flowtmpl::sample_and_log_prob(d, n, opt.seed, cb);
        const auto clean = flowtmpl::sample_and_log_prob(d, n, opt.seed, Ctx(c.leftCols(n)));
        bool same = true;
        for (Eigen::Index j = 0; j < n; ++j)
          if (j != 255 && j != 256)
            same = same && same_bits(s.values.col(j), clean.values.col(j)) && same_bits(s.log_det.col(j), clean.log_det.col(j));
        fail("isolation", same, "sample_and_log_prob | contexts nan and inf in columns 255, 256: the other columns changed");
      }
    }
  }
};
}  // namespace detail

}  // namespace flowtmpl::testing
