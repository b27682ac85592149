#include "measure/reducer.h"

#include "util/error.h"

namespace sg {

std::vector<std::byte> Reducer::save() const { fail("this measurement cannot run on several MPI ranks"); }

void Reducer::restore(std::span<const std::vector<std::byte>>) {
  fail("this measurement cannot run on several MPI ranks");
}

}  // namespace sg
