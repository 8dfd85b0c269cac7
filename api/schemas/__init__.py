"""The JSON shapes of the HTTP API, one module per router (:mod:`api.routers`).

``api.schemas.consents`` holds what ``api.routers.consents`` takes and answers, and so
on; :mod:`api.schemas.common` holds what several routers share (receipts, signed bodies,
signed intents as served). Field names are DESIGN's public contract, and the OpenAPI
document is generated from these classes: a change here is a change of the API.
"""
