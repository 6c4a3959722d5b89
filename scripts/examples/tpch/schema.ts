/**
 * The three TPC-H tables Q3 reads, as generate.ts writes them: '|'-separated, no header, no
 * trailing delimiter (dbgen writes one; readCsvFile would count it as an empty last column).
 * Dates are ISO strings, so that they compare as text.
 */
import type { CsvField } from '../../../lib/descriptor/types.ts';

export type TpchTable = 'customer' | 'orders' | 'lineitem';

export const TPCH_DELIMITER = '|';

export const TPCH_FIELDS: Record<TpchTable, CsvField[]> = {
  customer: [
    { name: 'c_custkey', type: 'integer' }, { name: 'c_name', type: 'string' }, { name: 'c_address', type: 'string' },
    { name: 'c_nationkey', type: 'integer' }, { name: 'c_phone', type: 'string' }, { name: 'c_acctbal', type: 'number' },
    { name: 'c_mktsegment', type: 'string' }, { name: 'c_comment', type: 'string' },
  ],
  orders: [
    { name: 'o_orderkey', type: 'integer' }, { name: 'o_custkey', type: 'integer' }, { name: 'o_orderstatus', type: 'string' },
    { name: 'o_totalprice', type: 'number' }, { name: 'o_orderdate', type: 'string' }, { name: 'o_orderpriority', type: 'string' },
    { name: 'o_clerk', type: 'string' }, { name: 'o_shippriority', type: 'integer' }, { name: 'o_comment', type: 'string' },
  ],
  lineitem: [
    { name: 'l_orderkey', type: 'integer' }, { name: 'l_partkey', type: 'integer' }, { name: 'l_suppkey', type: 'integer' },
    { name: 'l_linenumber', type: 'integer' }, { name: 'l_quantity', type: 'number' }, { name: 'l_extendedprice', type: 'number' },
    { name: 'l_discount', type: 'number' }, { name: 'l_tax', type: 'number' }, { name: 'l_returnflag', type: 'string' },
    { name: 'l_linestatus', type: 'string' }, { name: 'l_shipdate', type: 'string' }, { name: 'l_commitdate', type: 'string' },
    { name: 'l_receiptdate', type: 'string' }, { name: 'l_shipinstruct', type: 'string' }, { name: 'l_shipmode', type: 'string' },
    { name: 'l_comment', type: 'string' },
  ],
};

export interface Customer {
  c_custkey: number; c_name: string; c_address: string; c_nationkey: number; c_phone: string;
  c_acctbal: number; c_mktsegment: string; c_comment: string;
}

export interface Order {
  o_orderkey: number; o_custkey: number; o_orderstatus: string; o_totalprice: number; o_orderdate: string;
  o_orderpriority: string; o_clerk: string; o_shippriority: number; o_comment: string;
}

export interface LineItem {
  l_orderkey: number; l_partkey: number; l_suppkey: number; l_linenumber: number; l_quantity: number;
  l_extendedprice: number; l_discount: number; l_tax: number; l_returnflag: string; l_linestatus: string;
  l_shipdate: string; l_commitdate: string; l_receiptdate: string; l_shipinstruct: string; l_shipmode: string; l_comment: string;
}

export const MARKET_SEGMENTS = ['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'MACHINERY', 'HOUSEHOLD'] as const;
