// Every rejected input gives an error that names the problem, for every backend that sees it.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "sageval/attention.h"

namespace sageval {
namespace {

struct Inputs {
  at::Tensor q, k, v;
  AttentionOptions options;
};

Inputs good(at::ScalarType dtype = at::kHalf, int64_t d = 64) {
  Inputs in;
  in.q = at::randn({1, 4, 16, d}).to(dtype);
  in.k = at::randn({1, 2, 16, d}).to(dtype);
  in.v = at::randn({1, 2, 16, d}).to(dtype);
  return in;
}

struct BadInputCase {
  std::string name;
  std::function<Inputs()> make;
  std::string expected;  // substring of the error message
  std::vector<std::string> backends;  // empty: all backends
};

std::vector<BadInputCase> bad_input_cases() {
  return {
      {"Rank3", [] { Inputs i = good(); i.q = i.q[0]; return i; }, "q must be 4-D"},
      {"Undefined", [] { Inputs i = good(); i.v = at::Tensor(); return i; }, "v is an undefined tensor"},
      {"Empty", [] { Inputs i = good(); i.k = i.k.slice(2, 0, 0); i.v = i.v.slice(2, 0, 0); return i; }, "k is empty"},
      {"MixedDtypes", [] { Inputs i = good(); i.k = i.k.to(at::kFloat); return i; }, "must share one dtype"},
      {"IntegerDtype", [] { Inputs i = good(); i.q = i.q.to(at::kLong); i.k = i.k.to(at::kLong); i.v = i.v.to(at::kLong); return i; },
       "dtype Long is not supported"},
      {"Float32ForFp16Backends", [] { return good(at::kFloat); }, "dtype Float is not supported", {"fp16", "sage_int8"}},
      {"HeadDim96", [] { return good(at::kHalf, 96); }, "head dim 96 is not supported (supported: 64, 128)",
       {"fp16", "sage_int8"}},
      {"HeadsNotMultiple", [] { Inputs i = good(); i.q = at::randn({1, 3, 16, 64}).to(at::kHalf); return i; },
       "query heads (3) must be a multiple of key/value heads (2)"},
      {"BatchMismatch", [] { Inputs i = good(); i.q = at::randn({2, 4, 16, 64}).to(at::kHalf); return i; }, "batch sizes differ"},
      {"KVShapeMismatch", [] { Inputs i = good(); i.v = at::randn({1, 2, 17, 64}).to(at::kHalf); return i; }, "k and v shapes differ"},
      {"HeadDimMismatch", [] { Inputs i = good(); i.q = at::randn({1, 4, 16, 128}).to(at::kHalf); return i; }, "head dims differ"},
      {"NaNInK", [] { Inputs i = good(); i.k[0][1][3][5] = NAN; return i; }, "k contains non-finite values (1 NaN, 0 Inf)"},
      {"InfInV", [] { Inputs i = good(); i.v[0][0][0][0] = INFINITY; return i; }, "v contains non-finite values (0 NaN, 1 Inf)"},
      {"NegativeScale", [] { Inputs i = good(); i.options.sm_scale = -0.1; return i; }, "sm_scale must be finite and positive"},
      {"NaNScale", [] { Inputs i = good(); i.options.sm_scale = NAN; return i; }, "sm_scale must be finite and positive"},
      // NHD tensors read as HND: 16 "heads" of q against 16 of k is fine, but here k has 2 tokens -> 2 heads.
      {"WrongLayoutHeads", [] { Inputs i = good(); i.options.layout = Layout::NHD;
                                i.q = at::randn({1, 16, 3, 64}).to(at::kHalf); i.k = at::randn({1, 16, 2, 64}).to(at::kHalf);
                                i.v = i.k.clone(); return i; },
       "layout NHD"},
      {"LseFromSdpa", [] { Inputs i = good(); i.options.return_lse = true; return i; }, "return_lse is not supported", {"sdpa"}},
  };
}

struct BackendAndCase {
  std::string backend;
  BadInputCase c;
};

void PrintTo(const BackendAndCase& p, std::ostream* os) { *os << p.backend << "_" << p.c.name; }

std::vector<BackendAndCase> all_pairs() {
  std::vector<BackendAndCase> out;
  for (const auto& c : bad_input_cases())
    for (const auto& b : list_backends()) {
      if (!c.backends.empty() && std::find(c.backends.begin(), c.backends.end(), b) == c.backends.end()) continue;
      out.push_back({b, c});
    }
  return out;
}

class BadInput : public ::testing::TestWithParam<BackendAndCase> {};

TEST_P(BadInput, IsRejectedWithAMessageNamingIt) {
  const auto& p = GetParam();
  Inputs in = p.c.make();
  auto backend = make_backend(p.backend);
  try {
    backend->forward(in.q, in.k, in.v, in.options);
    FAIL() << p.backend << " accepted bad input " << p.c.name;
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(p.c.expected), std::string::npos) << "message: " << msg << "\nexpected to contain: " << p.c.expected;
    EXPECT_NE(msg.find("'" + p.backend + "'"), std::string::npos) << "message does not name the backend: " << msg;
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BadInput, ::testing::ValuesIn(all_pairs()),
                         [](const ::testing::TestParamInfo<BackendAndCase>& info) {
                           return info.param.backend + "_" + info.param.c.name;
                         });

}  // namespace
}  // namespace sageval
