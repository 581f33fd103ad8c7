"""HTTP caching for every GET, in two pure ASGI middlewares around the response cache.

HttpCachingMiddleware (outermost, `conditional`) answers HEAD wherever GET is answered, gives
every 200 a strong ETag, Last-Modified and Cache-Control, answers If-None-Match and
If-Modified-Since with 304, and applies CORS (`cors`): open for reads, closed for writes except
to the configured origins.

Under /v1/ the validators come from the dataset versions (`versions`: dataset_version, bumped by
every committed change), not from the body: the ETag is a hash of the versions of the datasets
the route reads, the request's URL and the headers the representation depends on, and the code
and settings (`validators`). So a conditional GET whose ETag still matches is answered before
the route runs, from memory while the change listener is connected (one small query otherwise).
The versions are read before the route reads its data, so a body can only be newer than its ETag
says, never older: a client may download once more, it is never told a stale copy is current.
Routes whose answer depends on more than the data (the change feed: which transactions have
ended) and routes outside /v1/ get an ETag hashed from their body.

CompressionMiddleware (innermost, `compression`, inside the response cache, so that a cached
entry is already compressed) gzips complete bodies above a threshold; streamed exports are left
as they are, so their size and checksum are those the catalog publishes.

What the middlewares and the routes share (the policy, the exposed headers) is in `policy`.
"""
