// tests/compile_budget/calibration.cpp: the compile-time yardstick of the budget test.
// It uses no flowtmpl header, so its compile time changes only with the machine and the
// compiler: run_budget.cmake compiles it next to chain.cpp and compares the ratio of the
// two CPU times, which moves far less from one machine (or one hour) to the next than
// either time does. Its content is the same kind of work as chain.cpp's: Eigen products
// of fixed and dynamic sizes in float, coefficient-wise exp/log/tanh expressions, and a
// tuple of class templates unrolled with a fold, all at -O2.
#include <Eigen/Dense>

#include <cstdio>
#include <tuple>

namespace {

template <int In, int Hidden, int Out>
struct Layer {
  Eigen::Matrix<float, Hidden, In> w1 = Eigen::Matrix<float, Hidden, In>::Constant(0.01f);
  Eigen::Matrix<float, Out, Hidden> w2 = Eigen::Matrix<float, Out, Hidden>::Constant(0.02f);
  Eigen::Matrix<float, Hidden, 1> b1 = Eigen::Matrix<float, Hidden, 1>::Zero();

  Eigen::MatrixXf forward(const Eigen::MatrixXf& x) const {
    Eigen::MatrixXf h = ((w1 * x).colwise() + b1).array().tanh().matrix();
    Eigen::MatrixXf y = w2 * h;
    y.array() = y.array().exp().log1p() - y.array().abs() * 0.5f;
    return y;
  }
  Eigen::MatrixXf backward(const Eigen::MatrixXf& x, const Eigen::MatrixXf& g) const {
    Eigen::MatrixXf h = ((w1 * x).colwise() + b1).array().tanh().matrix();
    Eigen::MatrixXf gh = (w2.transpose() * g).array() * (1.0f - h.array().square());
    return w1.transpose() * gh;
  }
  float solve(const Eigen::MatrixXf& x) const {
    const Eigen::MatrixXf a = w1.transpose() * w1 + Eigen::MatrixXf::Identity(In, In);
    const Eigen::PartialPivLU<Eigen::MatrixXf> lu(a);
    return lu.solve(x).sum() + lu.determinant();
  }
};

// the layers unrolled with a fold over a tuple, as a chain of layers is
template <typename... Layers>
float run(const Eigen::MatrixXf& x) {
  std::tuple<Layers...> layers{};
  float total = 0;
  std::apply([&](const auto&... layer) { ((total += layer.forward(x).sum() + layer.backward(x, x).sum() + layer.solve(x)), ...); },
             layers);
  return total;
}

}  // namespace

int main() {
  const Eigen::MatrixXf x = Eigen::MatrixXf::Constant(8, 16, 0.5f);
  std::printf("%g\n", double(run<Layer<8, 32, 8>>(x)));
  return 0;
}
