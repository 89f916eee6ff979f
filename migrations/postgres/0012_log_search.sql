-- Log search (GET /api/v1/logs, docs/DECISIONS.md #47): a GIN index over
-- the words of each invocation's logs and error text, kept by PostgreSQL as
-- rows are stored. Built-in full text ('simple': lower-cased words, no
-- stemming, no stop words), not pg_trgm: no extension to install, an index
-- a fraction of a trigram index's size, and the same word semantics as the
-- SQLite index (its 0012).
--
-- PostgreSQL's parser would keep `/orders/zebra-7`, `db-1.internal` or
-- `a@b.com` as one token each, where SQLite's unicode61 sees the words in
-- them; every run of characters that are not letters or digits becomes a
-- space first, so both index the same words. Queries go through the same
-- function (`invocation_words(logs, error) @@ to_tsquery('simple', ...)`).
CREATE FUNCTION invocation_words(logs TEXT, error TEXT) RETURNS tsvector
LANGUAGE SQL IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('simple', regexp_replace(logs, '[^[:alnum:]]+', ' ', 'g'))
        || to_tsvector('simple', regexp_replace(coalesce(error, ''), '[^[:alnum:]]+', ' ', 'g'))
$$;

CREATE INDEX invocations_words ON invocations USING GIN (invocation_words(logs, error));
