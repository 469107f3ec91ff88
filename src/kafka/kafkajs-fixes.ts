/**
 * Import first, before anything that loads kafkajs: these replace kafkajs modules in the
 * require cache, which only works before kafkajs loads them. Two are for correctness (our
 * read_committed filter, the stable OffsetFetch; KafkaClient refuses to start when either is
 * missing), four for speed (produce requests and request framing encoded in one pass, messages grouped
 * by partition in linear time, fetched records decoded without 64-bit Long objects), one for a quiet stderr on Node 24 (no negative timer delays), one so a resume fetches at once
 * rather than after the fetch wait, and two for KIP-447 zombie
 * fencing (TxnOffsetCommit v3 carrying the group generation, which KafkaClient also requires,
 * and the generation kafkajs's consumer joined in, which it never exposes).
 */
import './read-committed.js';
import './stable-offsets.js';
import './produce-request.js';
import './record-decoder.js';
import './request-framing.js';
import './partition-grouping.js';
import './request-queue-timer.js';
import './txn-offset-commit.js';
import './group-generation.js';
// Last: it loads kafkajs's consumer group, which requires modules the ones above replace.
import './resume-wakes-fetch.js';
