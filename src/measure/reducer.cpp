#include "measure/reducer.h"

#include "util/error.h"

namespace sg {

std::vector<std::byte> Reducer::save() const { fail("this measurement cannot run on several MPI ranks"); }

void Reducer::restore(std::span<const std::vector<std::byte>>) {
  fail("this measurement cannot run on several MPI ranks");
}

void Reducer::take_stage(std::span<const std::byte>, const Model::Stage&) {
  fail("this measurement cannot run in a layer pipeline");
}

bool stage_holds(const Model::Stage& stage, const PointId& point) {
  if (stage.count == 1) return true;
  if (point.layer >= 0) return stage.holds_layer(point.layer);
  const bool last = point.point == Point::LnFinalOut || point.point == Point::Logits;
  return last ? stage.last() : stage.first();
}

}  // namespace sg
