"""`python -m access_gateway.dev_projection`: serve the sample data on its own port (8020)."""

from access_common.run import serve
from access_gateway.dev_projection.app import DevProjectionSettings

serve(
    "access_gateway.dev_projection.app:create_app", DevProjectionSettings, service="dev-projection"
)
