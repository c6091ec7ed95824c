// A program outside the hooklog tree, built against the installed package.
#include <cstdio>

#include "hooklog/engine.h"

int main() {
  auto engine = hooklog::OpenEngine(hooklog::NewMemoryStorage());
  if (!engine.ok()) return 1;
  auto ep = (*engine)->CreateEndpoint({.url = "https://example.com/h"}).get();
  if (!ep.ok()) return 1;
  std::printf("hooklog %s: endpoint %s\n", hooklog::Version(),
              ep->id.ToString().c_str());
  return 0;
}
