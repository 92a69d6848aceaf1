// flowtmpl/conditioners/tangent_block.hpp: the tangent network's record / backward
// (detail::tangent_mlp, lipschitz_mlp.hpp) over a block of samples, every layer as
// matrix-matrix products (host: the blocks are heap matrices). The block path of
// Continuous (bijectors/continuous.hpp) evaluates one stage of many samples' solves
// with them.
//
//   detail::tangent_block_trace<Net>   per layer: the pre-activations A_l (w x n), the
//       activations and their slopes (w x n) and the tangents P_l (w x K n: sample j's
//       K columns at j K .. j K + K - 1)
//   detail::tangent_record_block<K>(net, X, E, sc, T, tr)
//       the outputs (Out x n) for the inputs X (In x n) and extra inputs E (C x n, the
//       network's context rows), the tangents along T (In x K n, K directions per
//       sample) kept in tr: P_0 = s_0 W_0[:, x] T, P_l = s_l W_l (slope_l-1 . P_l-1)
//   detail::tangent_backward_block<K>(net, tr, X, E, sc, T, Abar, Pbar, grad, GE)
//       the reverse sweep: adds the parameters' cotangents (summed over the block) to
//       grad, E's to GE (when not null), returns X's (In x n). Pbar (Out x K n, or
//       null) reaches them through the activations' second derivatives.
// The same sums as record / backward per sample, in another order (each product sums
// over the block at once).
#pragma once

#include <tuple>
#include <utility>

#include "../detail/eigen.hpp"

namespace flowtmpl::detail {

template <class Net, class Seq>
struct tangent_block_trace_of;
template <class Net, int... L>
struct tangent_block_trace_of<Net, std::integer_sequence<int, L...>> {
  using S = typename Net::scalar_type;
  std::tuple<Eigen::Matrix<S, Net::widths[L + 1], Eigen::Dynamic>...> a;
  std::tuple<Eigen::Matrix<S, Net::widths[L + 1], Eigen::Dynamic>...> h;  // act(A_l), l < layers - 1
  std::tuple<Eigen::Matrix<S, Net::widths[L + 1], Eigen::Dynamic>...> slope;
  std::tuple<Eigen::Matrix<S, Net::widths[L + 1], Eigen::Dynamic>...> P;
};
template <class Net>
using tangent_block_trace = tangent_block_trace_of<Net, std::make_integer_sequence<int, Net::layers>>;

// each sample's K columns of M (rows x K n) scaled row-wise by that sample's column of d
template <int K, class M, class Dm>
void scale_tangents(M& P, const Dm& d) {
  for (Eigen::Index j = 0; j < d.cols(); ++j) P.middleCols(j * K, K).array().colwise() *= d.col(j).array();
}

template <int K, class Net, class XB, class EB, class TB>
auto tangent_record_block(const Net& net, const XB& X, const EB& E, const typename Net::scale_array& sc, const TB& T,
                          tangent_block_trace<Net>& tr) {
  using S = typename Net::scalar_type;
  using Act = typename Net::activation_type;
  constexpr int In = Net::inputs, C = Net::context;
  auto& A0 = std::get<0>(tr.a);
  A0.noalias() = net.template weight<0>().template leftCols<In>() * X;
  if constexpr (C > 0) A0.noalias() += net.template weight<0>().template rightCols<C>() * E;
  A0 *= sc[0];
  A0.colwise() += net.template bias<0>();
  std::get<0>(tr.P).noalias() = net.template weight<0>().template leftCols<In>() * T;
  std::get<0>(tr.P) *= sc[0];
  [&]<int... L>(std::integer_sequence<int, L...>) {
    (([&] {
       constexpr int l = L + 1;
       const auto& a = std::get<l - 1>(tr.a);
       auto& d = std::get<l - 1>(tr.slope);
       d = Act::derivative(a.array()).matrix();
       auto& H = std::get<l - 1>(tr.h);
       H = Act::apply(a.array()).matrix();
       Eigen::Matrix<S, Net::widths[l], Eigen::Dynamic> DP = std::get<l - 1>(tr.P);
       scale_tangents<K>(DP, d);
       auto& A = std::get<l>(tr.a);
       A.noalias() = net.template weight<l>() * H;
       A *= sc[std::size_t(l)];
       A.colwise() += net.template bias<l>();
       auto& P = std::get<l>(tr.P);
       P.noalias() = net.template weight<l>() * DP;
       P *= sc[std::size_t(l)];
     }()),
     ...);
  }(std::make_integer_sequence<int, Net::layers - 1>{});
  return std::get<Net::layers - 1>(tr.a);
}

template <int K, int L, class Net, class XB, class EB, class TB, class AB, class PB, class EG>
auto tangent_back_layer(const Net& net, const tangent_block_trace<Net>& tr, const XB& X, const EB& E,
                        const typename Net::scale_array& sc, const TB& T, const AB& Abar, const PB* Pbar, Net& grad,
                        EG* GE) {
  using S = typename Net::scalar_type;
  using Act = typename Net::activation_type;
  constexpr int In = Net::inputs, C = Net::context, n_in = Net::widths[L], n_out = Net::widths[L + 1];
  const S s = sc[std::size_t(L)];
  using W = typename Net::template weight_t<L>;
  W Q;
  Eigen::Map<W> gW(grad.values.data() + Net::offsets[L]);
  Eigen::Map<Eigen::Matrix<S, n_out, 1>> gb(grad.values.data() + Net::offsets[L] + std::size_t(n_out) * n_in);
  gb += Abar.rowwise().sum();
  if constexpr (L == 0) {
    Q.template leftCols<In>().noalias() = Abar * X.transpose();
    if constexpr (C > 0) Q.template rightCols<C>().noalias() = Abar * E.transpose();
    if (Pbar) Q.template leftCols<In>().noalias() += (*Pbar) * T.transpose();
    gW += s * Q;
    net.template add_spectral_cotangent<0>(Q, gW);
    const Eigen::Matrix<S, n_in, Eigen::Dynamic> Hbar = s * (net.template weight<0>().transpose() * Abar);
    if constexpr (C > 0)
      if (GE) *GE += Hbar.template bottomRows<C>();
    (void)GE;
    return Eigen::Matrix<S, In, Eigen::Dynamic>(Hbar.template topRows<In>());
  } else {
    const auto& a = std::get<L - 1>(tr.a);
    const auto& d = std::get<L - 1>(tr.slope);
    Q.noalias() = Abar * std::get<L - 1>(tr.h).transpose();
    Eigen::Matrix<S, n_in, Eigen::Dynamic> DP;
    if (Pbar) {
      DP = std::get<L - 1>(tr.P);
      scale_tangents<K>(DP, d);
      Q.noalias() += (*Pbar) * DP.transpose();
    }
    gW += s * Q;
    net.template add_spectral_cotangent<L>(Q, gW);
    Eigen::Matrix<S, n_in, Eigen::Dynamic> Aprev = s * (net.template weight<L>().transpose() * Abar);
    Aprev.array() *= d.array();
    if (!Pbar)
      return tangent_back_layer<K, L - 1>(net, tr, X, E, sc, T, Aprev,
                                          static_cast<const Eigen::Matrix<S, n_in, Eigen::Dynamic>*>(nullptr), grad, GE);
    Eigen::Matrix<S, n_in, Eigen::Dynamic> Hbar = s * (net.template weight<L>().transpose() * (*Pbar));
    const Eigen::Matrix<S, n_in, Eigen::Dynamic> d2 = Act::second_derivative(a.array()).matrix();
    const auto& P = std::get<L - 1>(tr.P);
    for (Eigen::Index j = 0; j < Aprev.cols(); ++j)
      Aprev.col(j).array() +=
          d2.col(j).array() * (Hbar.middleCols(j * K, K).array() * P.middleCols(j * K, K).array()).rowwise().sum();
    scale_tangents<K>(Hbar, d);
    return tangent_back_layer<K, L - 1>(net, tr, X, E, sc, T, Aprev, &Hbar, grad, GE);
  }
}

template <int K, class Net, class XB, class EB, class TB, class AB, class PB, class EG>
auto tangent_backward_block(const Net& net, const tangent_block_trace<Net>& tr, const XB& X, const EB& E,
                            const typename Net::scale_array& sc, const TB& T, const AB& Abar, const PB* Pbar,
                            Net& grad, EG* GE) {
  using S = typename Net::scalar_type;
  const Eigen::Matrix<S, Net::outputs, Eigen::Dynamic> A = Abar;
  const Eigen::Matrix<S, Net::outputs, Eigen::Dynamic>* P = nullptr;
  Eigen::Matrix<S, Net::outputs, Eigen::Dynamic> Pcopy;
  if (Pbar) {
    Pcopy = *Pbar;
    P = &Pcopy;
  }
  return tangent_back_layer<K, Net::layers - 1>(net, tr, X, E, sc, T, A, P, grad, GE);
}

}  // namespace flowtmpl::detail
