#include "pipeline/stage.hpp"

namespace ibdriver::pipeline {

std::string_view to_string(StageName stage) {
  switch (stage) {
    case StageName::detect: return "detect";
    case StageName::resolve: return "resolve";
    case StageName::fetch: return "fetch";
    case StageName::unpack: return "unpack";
    case StageName::packages: return "packages";
    case StageName::dkms: return "dkms";
    case StageName::configure: return "configure";
    case StageName::load: return "load";
    case StageName::validate: return "validate";
  }
  return "unknown";
}

}  // namespace ibdriver::pipeline
