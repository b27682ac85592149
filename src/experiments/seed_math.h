#pragma once
// The arithmetic the seeds share, defined once for every experiment.
#include <vector>

namespace sg {

// The seeds' guarded ratio a / (b + 1e-10):
//   seed 000/001  attn_gain = norm_out / (norm_in + 1e-10); gain_ratio = mlp_gains / (attn_gains + 1e-10)
//   seed 004      gain = norms[i] / (norms[i-1] + 1e-10)
constexpr double kSeedEpsilon = 1e-10;
inline double seed_ratio(double numerator, double denominator) { return numerator / (denominator + kSeedEpsilon); }

// np.mean and np.std (population, ddof = 0, two passes as numpy computes them),
// as seed 004 aggregates gains over prompts and seed 003 the scrambled scores.
// Throws sg::Error for no values.
struct MeanStd {
  double mean = 0, std = 0;
};
MeanStd mean_std(const std::vector<double>& values);

}  // namespace sg
