#include "experiments/seed_math.h"

#include <cmath>

#include "util/error.h"

namespace sg {

MeanStd mean_std(const std::vector<double>& values) {
  if (values.empty()) fail("mean of no values");
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  double ss = 0;
  for (double v : values) ss += (v - mean) * (v - mean);
  return {mean, std::sqrt(ss / static_cast<double>(values.size()))};
}

}  // namespace sg
