// tests/compile_budget/probe.cpp: runs a command and reports what it cost.
//   compile_probe COMMAND [ARGS...]
// prints "cpu_seconds=<user+system> wall_seconds=<wall> peak_mb=<largest resident set>"
// for the command and its children (wait4's rusage), and exits with the command's
// status. CPU time rather than wall time: it does not grow when ctest runs other tests
// beside it.
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: compile_probe COMMAND [ARGS...]\n");
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("compile_probe: fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    std::perror("compile_probe: exec");
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) {
    std::perror("compile_probe: waitpid");
    return 2;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  const double cpu = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  // ru_maxrss: kilobytes on Linux, the largest of the children waited for
  std::printf("cpu_seconds=%.2f wall_seconds=%.2f peak_mb=%.0f\n", cpu, wall, double(ru.ru_maxrss) / 1024.0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
