"""GET /api/v1/prices/sol-usd and /api/v1/data-sources/status: reads of the cache, no
provider is called (a burst of requests here never reaches Hermes)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from prices import selectors
from prices.serializers import DataSourcesSerializer, SolUsdSerializer


class SolUsdView(APIView):
    @extend_schema(
        responses=SolUsdSerializer,
        description="The latest SOL/USD. Unknown is not an error: 200 with price null and "
        "is_stale true.",
    )
    def get(self, request):
        return Response(SolUsdSerializer(selectors.sol_usd_status()).data)


class DataSourcesView(APIView):
    @extend_schema(responses=DataSourcesSerializer)
    def get(self, request):
        return Response(DataSourcesSerializer(selectors.data_sources_status()).data)
