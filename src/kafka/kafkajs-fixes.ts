/**
 * Import first, before anything that loads kafkajs: our read_committed filter and the stable
 * OffsetFetch replace kafkajs modules in the require cache, which only works before kafkajs
 * loads them. KafkaClient refuses to start when either is missing.
 */
import './read-committed.js';
import './stable-offsets.js';
