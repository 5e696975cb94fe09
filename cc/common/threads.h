// RunOnThreads: a fork-join of `n` workers for short parallel phases
// outside the scan's thread pool (merges, sorts, digests).
//
//   RunOnThreads(threads, [&](int w) { /* the w-th share of the work */ });
//
// Runs fn(0) .. fn(n - 1) at once, fn(0) on the calling thread and the
// others on threads of their own, and returns when all have returned
// (n <= 1: fn(0) alone). fn must not throw.
//
//   RunJobs(threads, jobs, [&](size_t j) { /* job j */ });
//
// Hands jobs 0 .. jobs - 1, in that order, to `n` workers as they come
// free (longest jobs first balances best); returns when all are done.
//
//   ScopedThread opener([&] { opened = Open(); });
//
// A thread joined when it goes out of scope (C++20's std::jthread without
// stop tokens), so that an early return never leaves it running; Join()
// waits for it before that.
#ifndef PV_COMMON_THREADS_H_
#define PV_COMMON_THREADS_H_

#include <atomic>
#include <cstddef>
#include <thread>
#include <utility>
#include <vector>

namespace pv {

template <typename Fn>
void RunOnThreads(int n, const Fn& fn) {
  std::vector<std::thread> helpers;
  for (int w = 1; w < n; ++w) helpers.emplace_back([&fn, w] { fn(w); });
  fn(0);
  for (std::thread& h : helpers) h.join();
}

template <typename Fn>
void RunJobs(int n, size_t jobs, const Fn& fn) {
  std::atomic<size_t> next{0};
  RunOnThreads(n, [&](int) {
    for (size_t j; (j = next.fetch_add(1)) < jobs;) fn(j);
  });
}

class ScopedThread {
 public:
  template <typename Fn>
  explicit ScopedThread(Fn&& fn) : thread_(std::forward<Fn>(fn)) {}
  ScopedThread(const ScopedThread&) = delete;
  ScopedThread& operator=(const ScopedThread&) = delete;
  ~ScopedThread() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

}  // namespace pv

#endif  // PV_COMMON_THREADS_H_
