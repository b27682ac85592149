#include "dist/comm.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "util/error.h"

#ifdef SG_WITH_MPI
#include <mpi.h>
#endif

namespace sg::dist {
namespace {

Comm& the_world() {
  static Comm w;
  return w;
}

[[maybe_unused]] void check(int rc, const char* what) {
#ifdef SG_WITH_MPI
  if (rc != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(rc, text, &n);
    fail("MPI {} failed: {}", what, std::string(text, static_cast<size_t>(n)));
  }
#else
  (void)rc, (void)what;
#endif
}

}  // namespace

bool built_with_mpi() {
#ifdef SG_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpi() {
  // Open MPI's mpirun, PMIx (Slurm srun --mpi=pmix, Open MPI 5), PMI-1/2 (srun, MPICH's mpiexec).
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

static int solo_depth = 0;  // SoloScopes alive

const Comm& world() {
  static const Comm one;
  return solo_depth > 0 ? one : the_world();
}

const Comm& mpi_world() { return the_world(); }

SoloScope::SoloScope() { ++solo_depth; }
SoloScope::~SoloScope() { --solo_depth; }

void init(int* argc, char*** argv) {
#ifdef SG_WITH_MPI
  if (!launched_by_mpi()) return;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  check(MPI_Init(argc, argv), "initialisation");
  // Errors come back as codes (check() turns them into sg::Error), never as
  // the default handler's abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  Comm& w = the_world();
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &w.size_);
  std::atexit(finalize);
#else
  (void)argc, (void)argv;
#endif
}

void finalize() {
#ifdef SG_WITH_MPI
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Finalize();
#endif
}

std::vector<std::vector<std::byte>> Comm::allgather_bytes(std::span<const std::byte> mine) const {
  if (size_ == 1) return {std::vector<std::byte>(mine.begin(), mine.end())};
#ifdef SG_WITH_MPI
  // Sizes first, then the bytes in pieces below MPI's int counts.
  const auto n = static_cast<unsigned long long>(mine.size());
  std::vector<unsigned long long> sizes(static_cast<size_t>(size_));
  check(MPI_Allgather(&n, 1, MPI_UNSIGNED_LONG_LONG, sizes.data(), 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD),
        "allgather of sizes");
  std::vector<std::vector<std::byte>> out(static_cast<size_t>(size_));
  for (int r = 0; r < size_; ++r) out[static_cast<size_t>(r)].resize(sizes[static_cast<size_t>(r)]);
  out[static_cast<size_t>(rank_)].assign(mine.begin(), mine.end());
  constexpr size_t kPiece = size_t{1} << 30;
  for (int r = 0; r < size_; ++r) {
    auto& part = out[static_cast<size_t>(r)];
    for (size_t off = 0; off < part.size(); off += kPiece) {
      const int count = static_cast<int>(std::min(kPiece, part.size() - off));
      check(MPI_Bcast(part.data() + off, count, MPI_BYTE, r, MPI_COMM_WORLD), "broadcast");
    }
  }
  return out;
#else
  fail("internal: a distributed world without MPI");
#endif
}

std::vector<std::vector<std::byte>> Comm::gather_bytes(std::span<const std::byte> mine) const {
  if (size_ == 1) return {std::vector<std::byte>(mine.begin(), mine.end())};
#ifdef SG_WITH_MPI
  const auto n = static_cast<unsigned long long>(mine.size());
  std::vector<unsigned long long> sizes(static_cast<size_t>(size_));
  check(MPI_Gather(&n, 1, MPI_UNSIGNED_LONG_LONG, sizes.data(), 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD),
        "gather of sizes");
  constexpr size_t kPiece = size_t{1} << 30;
  if (rank_ != 0) {
    for (size_t off = 0; off < mine.size(); off += kPiece)
      check(MPI_Send(mine.data() + off, static_cast<int>(std::min(kPiece, mine.size() - off)), MPI_BYTE, 0, 0,
                     MPI_COMM_WORLD),
            "send");
    return {};
  }
  std::vector<std::vector<std::byte>> out(static_cast<size_t>(size_));
  out[0].assign(mine.begin(), mine.end());
  for (int r = 1; r < size_; ++r) {
    auto& part = out[static_cast<size_t>(r)];
    part.resize(sizes[static_cast<size_t>(r)]);
    for (size_t off = 0; off < part.size(); off += kPiece)
      check(MPI_Recv(part.data() + off, static_cast<int>(std::min(kPiece, part.size() - off)), MPI_BYTE, r, 0,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE),
            "receive");
  }
  return out;
#else
  fail("internal: a distributed world without MPI");
#endif
}

void Comm::barrier() const {
#ifdef SG_WITH_MPI
  if (size_ > 1) check(MPI_Barrier(MPI_COMM_WORLD), "barrier");
#endif
}

void Comm::abort(int code) const {
#ifdef SG_WITH_MPI
  if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

}  // namespace sg::dist
