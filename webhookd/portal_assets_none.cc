// PortalAssets() for a webhookd built without the portal: no files.
#include "webhookd/portal_assets.h"

namespace webhookd {

std::span<const PortalAsset> PortalAssets() { return {}; }

}  // namespace webhookd
