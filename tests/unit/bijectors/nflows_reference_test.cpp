// flowtmpl's ActNorm and LUConvT<lu_diag::softplus> against golden values computed by
// nflows 0.14 in float64 (tests/data/README.md says where they come from).
//
// Directions: nflows's forward is the normalizing direction (data to noise). Both layers
// here have the same forward formula as their nflows counterparts with the same
// parameter names, so nflows's forward is flowtmpl's forward; in flowtmpl's convention
// (forward = sampling) the nflows layer used in a flow is Inverse<...> of the flowtmpl
// one, whose inverse() is that same formula. Both views are checked.
//
// Tolerance: 1e-12 absolute in double. The float runs read the same data, rounded, and
// allow 1e-5 relative to the size of the value.
#include <flowtmpl/bijectors/act_norm.hpp>
#include <flowtmpl/bijectors/inverse.hpp>
#include <flowtmpl/bijectors/lu_conv.hpp>
#include <flowtmpl/host.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <iomanip>
#include <stdexcept>
#include <string>
#include <vector>

namespace nflows_reference_test {

namespace {

using json = nlohmann::json;

json load(const std::string& file) {
  const std::string path = std::string(FLOWTMPL_TEST_DATA_DIR) + "/" + file;
  std::ifstream in(path);
  INFO("reading " << path);
  REQUIRE(in.good());
  return json::parse(in);
}

const json& find_case(const json& data, const std::string& id) {
  for (const auto& c : data.at("cases"))
    if (c.at("id") == id) return c;
  FAIL("no case " << id);
  throw std::logic_error("unreachable");
}

template <class S>
bool close(double got, double expected) {
  if (sizeof(S) == 8) return std::abs(got - expected) <= 1e-12;
  return std::abs(got - expected) <= 1e-5 * (1 + std::abs(expected));
}

// Compares a matrix with a JSON list of rows; reports the worst entry.
template <class S, class M>
void check_matrix(const M& got, const json& rows, const char* what) {
  REQUIRE(std::size_t(got.rows()) == rows.size());
  double worst = 0;
  int bad = 0;
  for (Eigen::Index i = 0; i < got.rows(); ++i) {
    REQUIRE(std::size_t(got.cols()) == rows[std::size_t(i)].size());
    for (Eigen::Index j = 0; j < got.cols(); ++j) {
      const double e = rows[std::size_t(i)][std::size_t(j)].template get<double>();
      worst = std::max(worst, std::abs(double(got(i, j)) - e));
      if (!close<S>(double(got(i, j)), e)) ++bad;
    }
  }
  INFO(what << ": largest difference " << std::setprecision(3) << worst);
  CHECK(bad == 0);
}

template <class S>
void check_values(const std::vector<double>& got, const json& expected, const char* what) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    INFO(what << "[" << k << "]: " << std::setprecision(17) << got[k] << " against "
              << expected[k].template get<double>());
    CHECK(close<S>(got[k], expected[k].template get<double>()));
  }
}

// ---- ActNorm: 4-D BCHW tensors; each (batch, :, h, w) is one C-vector sample.

struct bchw {
  int b, c, h, w;
};

bchw shape_of(const json& t) { return {int(t.size()), int(t[0].size()), int(t[0][0].size()), int(t[0][0][0].size())}; }

// Column (n h + i) w + j holds pixel (i, j) of batch element n: nflows's
// permute(0, 2, 3, 1).reshape(-1, C) order.
template <class S, int C>
Eigen::Matrix<S, C, Eigen::Dynamic> to_columns(const json& t) {
  const bchw s = shape_of(t);
  REQUIRE(s.c == C);
  Eigen::Matrix<S, C, Eigen::Dynamic> m(C, s.b * s.h * s.w);
  for (int n = 0; n < s.b; ++n)
    for (int k = 0; k < C; ++k)
      for (int i = 0; i < s.h; ++i)
        for (int j = 0; j < s.w; ++j)
          m(k, (n * s.h + i) * s.w + j) =
              S(t[std::size_t(n)][std::size_t(k)][std::size_t(i)][std::size_t(j)].get<double>());
  return m;
}

template <class S, int C>
void check_columns(const Eigen::Matrix<S, C, Eigen::Dynamic>& got, const json& t, const char* what) {
  const bchw s = shape_of(t);
  REQUIRE(got.cols() == s.b * s.h * s.w);
  double worst = 0;
  int bad = 0;
  for (int n = 0; n < s.b; ++n)
    for (int k = 0; k < C; ++k)
      for (int i = 0; i < s.h; ++i)
        for (int j = 0; j < s.w; ++j) {
          const double e = t[std::size_t(n)][std::size_t(k)][std::size_t(i)][std::size_t(j)].get<double>();
          const double g = double(got(k, (n * s.h + i) * s.w + j));
          worst = std::max(worst, std::abs(g - e));
          if (!close<S>(g, e)) ++bad;
        }
  INFO(what << ": largest difference " << std::setprecision(3) << worst);
  CHECK(bad == 0);
}

// nflows's logabsdet per batch element: the sum over its H W pixels.
template <class S>
std::vector<double> per_batch(const Eigen::Matrix<S, 1, Eigen::Dynamic>& per_pixel, int batch) {
  const long pixels = long(per_pixel.size()) / batch;
  std::vector<double> out;
  for (int n = 0; n < batch; ++n) out.push_back(double(per_pixel.segment(n * pixels, pixels).sum()));
  return out;
}

template <class S, int C>
void set_act_norm(flowtmpl::bind_t<flowtmpl::ActNorm, C, S>& b, const json& state) {
  REQUIRE(state.at("log_scale").size() == std::size_t(C));
  for (int k = 0; k < C; ++k) {
    b.log_scale[std::size_t(k)] = S(state.at("log_scale")[std::size_t(k)].get<double>());
    b.shift[std::size_t(k)] = S(state.at("shift")[std::size_t(k)].get<double>());
  }
}

// Both views of one evaluation: the same formula (ActNorm forward == nflows forward) and
// the flow layer (Inverse<ActNorm>, whose inverse is nflows's forward).
template <class S, int C>
void check_act_norm_evaluation(const flowtmpl::bind_t<flowtmpl::ActNorm, C, S>& b, const json& c) {
  const int batch = shape_of(c.at("inputs")).b;
  const auto x = to_columns<S, C>(c.at("inputs"));
  const auto y = to_columns<S, C>(c.at("outputs"));
  {
    INFO("ActNorm, nflows's forward as flowtmpl's forward");
    const auto f = flowtmpl::forward_and_log_det(b, x);
    check_columns<S, C>(f.values, c.at("outputs"), "outputs");
    check_values<S>(per_batch<S>(f.log_det, batch), c.at("logabsdet"), "logabsdet");
    const auto i = flowtmpl::inverse_and_log_det(b, y);
    check_columns<S, C>(i.values, c.at("inverse_outputs"), "inverse_outputs");
    check_values<S>(per_batch<S>(i.log_det, batch), c.at("inverse_logabsdet"), "inverse_logabsdet");
    // The per-sample members agree with the batch path.
    Eigen::Matrix<S, C, Eigen::Dynamic> one(C, x.cols());
    for (Eigen::Index j = 0; j < x.cols(); ++j) one.col(j) = b.forward(Eigen::Matrix<S, C, 1>(x.col(j)));
    check_columns<S, C>(one, c.at("outputs"), "outputs, per sample");
  }
  {
    INFO("Inverse<ActNorm> as a flow layer: nflows's forward is its inverse");
    const auto layer = flowtmpl::invert(b);
    const auto n = flowtmpl::inverse_and_log_det(layer, x);
    check_columns<S, C>(n.values, c.at("outputs"), "outputs");
    check_values<S>(per_batch<S>(n.log_det, batch), c.at("logabsdet"), "logabsdet");
    const auto s = flowtmpl::forward_and_log_det(layer, y);
    check_columns<S, C>(s.values, c.at("inverse_outputs"), "inverse_outputs");
    check_values<S>(per_batch<S>(s.log_det, batch), c.at("inverse_logabsdet"), "inverse_logabsdet");
  }
}

// ---- LULinear

template <int D, class S>
flowtmpl::bind_t<flowtmpl::LUConvT<flowtmpl::lu_diag::softplus>, D, S> lu_from(const json& state) {
  flowtmpl::bind_t<flowtmpl::LUConvT<flowtmpl::lu_diag::softplus>, D, S> b;
  constexpr std::size_t n_tri = std::size_t(D * (D - 1) / 2);
  REQUIRE(state.at("lower_entries").size() == n_tri);
  REQUIRE(state.at("upper_entries").size() == n_tri);
  for (std::size_t k = 0; k < n_tri; ++k) {
    b.lower_entries[k] = S(state.at("lower_entries")[k].get<double>());
    b.upper_entries[k] = S(state.at("upper_entries")[k].get<double>());
  }
  for (std::size_t k = 0; k < std::size_t(D); ++k) {
    b.diag[k] = S(state.at("unconstrained_upper_diag")[k].get<double>());
    b.bias[k] = S(state.at("bias")[k].get<double>());
  }
  return b;
}

// nflows's rows of samples as flowtmpl's columns.
template <class S, int D>
Eigen::Matrix<S, D, Eigen::Dynamic> rows_to_columns(const json& rows) {
  Eigen::Matrix<S, D, Eigen::Dynamic> m(D, Eigen::Index(rows.size()));
  for (std::size_t j = 0; j < rows.size(); ++j) {
    REQUIRE(rows[j].size() == std::size_t(D));
    for (int i = 0; i < D; ++i) m(i, Eigen::Index(j)) = S(rows[j][std::size_t(i)].get<double>());
  }
  return m;
}

template <class S>
std::vector<double> to_vector(const Eigen::Matrix<S, 1, Eigen::Dynamic>& v) {
  std::vector<double> out;
  for (Eigen::Index j = 0; j < v.size(); ++j) out.push_back(double(v[j]));
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("nflows ActNorm, evaluation with given parameters", "[bijectors][act_norm][nflows]", float, double) {
  using S = TestType;
  const json data = load("actnorm.json");
  REQUIRE(data.at("meta").at("dtype") == "float64");
  const json& c = find_case(data, "actnorm_eval_4d");
  REQUIRE(c.at("features") == 3);
  REQUIRE(c.at("mode") == "eval");
  flowtmpl::bind_t<flowtmpl::ActNorm, 3, S> b;
  set_act_norm<S, 3>(b, c.at("state_dict_before"));
  check_act_norm_evaluation<S, 3>(b, c);
  // nflows's logabsdet is H W sum(log_scale) for every batch element.
  double sum = 0;
  for (const auto& v : c.at("state_dict_before").at("log_scale")) sum += v.get<double>();
  const bchw s = shape_of(c.at("inputs"));
  for (const auto& v : c.at("logabsdet")) CHECK(close<double>(v.get<double>(), s.h * s.w * sum));
}

TEMPLATE_TEST_CASE("nflows ActNorm, the data-dependent initialisation of the first training call",
                   "[bijectors][act_norm][nflows]", float, double) {
  using S = TestType;
  const json data = load("actnorm.json");
  const json& c = find_case(data, "actnorm_init_4d");
  REQUIRE(c.at("features") == 2);
  REQUIRE(c.at("mode") == "train_first_call");
  const json& before = c.at("state_dict_before");
  const json& after = c.at("state_dict_after");
  const auto x = to_columns<S, 2>(c.at("inputs"));
  // The pixels are the samples: 3 batch elements of 2 x 3 pixels.
  REQUIRE(x.cols() == 18);

  // The same formula: initialize_forward is nflows's init.
  flowtmpl::bind_t<flowtmpl::ActNorm, 2, S> b;
  set_act_norm<S, 2>(b, before);
  b.initialize_forward(x);
  std::vector<double> ls, sh;
  for (int k = 0; k < 2; ++k) ls.push_back(double(b.log_scale[std::size_t(k)]));
  for (int k = 0; k < 2; ++k) sh.push_back(double(b.shift[std::size_t(k)]));
  check_values<S>(ls, after.at("log_scale"), "log_scale after init");
  check_values<S>(sh, after.at("shift"), "shift after init");
  check_act_norm_evaluation<S, 2>(b, c);

  // The flow layer Inverse<ActNorm>, initialised through the host's initialize(), which
  // walks in the normalizing direction: the inner ActNorm gets initialize_forward.
  flowtmpl::bind_t<flowtmpl::Inverse<flowtmpl::ActNorm>, 2, S> layer;
  set_act_norm<S, 2>(layer.base, before);
  flowtmpl::initialize(layer, x);
  std::vector<double> ls2, sh2;
  for (int k = 0; k < 2; ++k) ls2.push_back(double(layer.base.log_scale[std::size_t(k)]));
  for (int k = 0; k < 2; ++k) sh2.push_back(double(layer.base.shift[std::size_t(k)]));
  check_values<S>(ls2, after.at("log_scale"), "log_scale after initialize(Inverse<ActNorm>)");
  check_values<S>(sh2, after.at("shift"), "shift after initialize(Inverse<ActNorm>)");
  const auto n = flowtmpl::inverse_and_log_det(layer, x);
  check_columns<S, 2>(n.values, c.at("outputs"), "outputs of Inverse<ActNorm>::inverse after init");
  check_values<S>(per_batch<S>(n.log_det, 3), c.at("logabsdet"), "logabsdet after init");
}

TEMPLATE_TEST_CASE("nflows LULinear is LUConvT<lu_diag::softplus> with the same parameters",
                   "[bijectors][lu_conv][nflows]", float, double) {
  using S = TestType;
  const json data = load("lu_linear.json");
  REQUIRE(data.at("meta").at("dtype") == "float64");
  const json& c = find_case(data, "lu_D3_random");
  REQUIRE(c.at("features") == 3);
  REQUIRE(c.at("eps").get<double>() == 1e-3);
  constexpr int D = 3;
  const auto b = lu_from<D, S>(c.at("state_dict"));
  const json& state = c.at("state_dict");

  // The packed layouts: entry k sits at (lower_indices[0][k], lower_indices[1][k]).
  const Eigen::Matrix<S, D, D> l = b.lower(), u = b.upper();
  for (std::size_t k = 0; k < 3; ++k) {
    const int li = c.at("lower_indices")[0][k].get<int>(), lj = c.at("lower_indices")[1][k].get<int>();
    const int ui = c.at("upper_indices")[0][k].get<int>(), uj = c.at("upper_indices")[1][k].get<int>();
    CHECK(l(li, lj) == S(state.at("lower_entries")[k].get<double>()));
    CHECK(u(ui, uj) == S(state.at("upper_entries")[k].get<double>()));
  }
  const json& derived = c.at("derived");
  check_matrix<S>(l, derived.at("lower"), "derived.lower");
  check_matrix<S>(u, derived.at("upper"), "derived.upper");
  std::vector<double> diag;
  for (int i = 0; i < D; ++i) diag.push_back(double(b.s(i)));
  check_values<S>(diag, derived.at("upper_diag"), "derived.upper_diag");
  check_matrix<S>(b.weight(), derived.at("weight"), "derived.weight");
  const auto p = b.prepare();
  check_matrix<S>(p.w, derived.at("weight"), "prepare().w");
  check_matrix<S>(p.w_inv, derived.at("weight_inverse"), "prepare().w_inv");
  CHECK(close<S>(double(b.constant_log_det()), derived.at("logabsdet").get<double>()));
  CHECK(close<S>(double(p.constant_log_det()), derived.at("logabsdet").get<double>()));

  // Forward: the batch path (prepared) and the per-sample path (triangular products).
  const auto x = rows_to_columns<S, D>(c.at("inputs"));
  const auto f = flowtmpl::forward_and_log_det(b, x);
  check_matrix<S>(Eigen::Matrix<S, Eigen::Dynamic, D>(f.values.transpose()), c.at("outputs"), "outputs");
  check_values<S>(to_vector<S>(f.log_det), c.at("logabsdet"), "logabsdet");
  Eigen::Matrix<S, D, Eigen::Dynamic> one(D, x.cols());
  for (Eigen::Index j = 0; j < x.cols(); ++j) one.col(j) = b.forward(Eigen::Matrix<S, D, 1>(x.col(j)));
  check_matrix<S>(Eigen::Matrix<S, Eigen::Dynamic, D>(one.transpose()), c.at("outputs"), "outputs, per sample");

  // Inverse of the forward outputs, and of random points.
  for (const char* key : {"inverse_of_forward", "inverse_random"}) {
    INFO(key);
    const json& inv = c.at(key);
    const auto y = rows_to_columns<S, D>(inv.at("inputs"));
    const auto r = flowtmpl::inverse_and_log_det(b, y);
    check_matrix<S>(Eigen::Matrix<S, Eigen::Dynamic, D>(r.values.transpose()), inv.at("outputs"), "inverse outputs");
    check_values<S>(to_vector<S>(r.log_det), inv.at("logabsdet"), "inverse logabsdet");
    Eigen::Matrix<S, D, Eigen::Dynamic> tri(D, y.cols());
    for (Eigen::Index j = 0; j < y.cols(); ++j) tri.col(j) = b.inverse(Eigen::Matrix<S, D, 1>(y.col(j)));
    check_matrix<S>(Eigen::Matrix<S, Eigen::Dynamic, D>(tri.transpose()), inv.at("outputs"),
                    "inverse outputs, per sample (triangular solves)");
  }

  // The flow-layer view: Inverse<LUConvT<softplus>>, whose inverse is nflows's forward.
  const auto layer = flowtmpl::invert(b);
  const auto n = flowtmpl::inverse_and_log_det(layer, x);
  check_matrix<S>(Eigen::Matrix<S, Eigen::Dynamic, D>(n.values.transpose()), c.at("outputs"),
                  "Inverse<LUConv>::inverse outputs");
  check_values<S>(to_vector<S>(n.log_det), c.at("logabsdet"), "Inverse<LUConv> inverse log-det");
  const auto y = rows_to_columns<S, D>(c.at("inverse_random").at("inputs"));
  const auto s = flowtmpl::forward_and_log_det(layer, y);
  check_matrix<S>(Eigen::Matrix<S, Eigen::Dynamic, D>(s.values.transpose()), c.at("inverse_random").at("outputs"),
                  "Inverse<LUConv>::forward outputs");
  check_values<S>(to_vector<S>(s.log_det), c.at("inverse_random").at("logabsdet"), "Inverse<LUConv> log-det");
}

}  // namespace nflows_reference_test
