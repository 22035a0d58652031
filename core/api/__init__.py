"""The API's wire conventions: fields and parsers for input, renderers and the error envelope for
output, the viewset base, the OpenAPI helpers, the request middleware and the public views."""
