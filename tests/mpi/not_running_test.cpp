// flowtmpl::mpi called before MPI_Init: refused in one sentence, naming the function
// (a program of its own: the other MPI tests run with MPI initialised).
#include <flowtmpl/flowtmpl.hpp>
#include <flowtmpl/mpi.hpp>

#include <cstdio>
#include <string>

int main() {
  using F = flowtmpl::bind_t<flowtmpl::Flow<flowtmpl::StandardNormal, flowtmpl::compose<flowtmpl::Affine>>, 2, double>;
  F f;
  const std::string expected = "mpi::sample: MPI is not running (call MPI_Init before and MPI_Finalize after)";
  try {
    (void)flowtmpl::mpi::sample(MPI_COMM_WORLD, f, 10, 1);
  } catch (const flowtmpl::shape_error& e) {
    if (e.what() == expected) {
      std::puts("refused: mpi::sample before MPI_Init");
      return 0;
    }
    std::printf("FAILED: the message was \"%s\", expected \"%s\"\n", e.what(), expected.c_str());
    return 1;
  }
  std::puts("FAILED: mpi::sample before MPI_Init did not throw");
  return 1;
}
