#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { defineApp } from '../lib/app';
import { AppContextError } from '../lib/app-context';

try {
  defineApp(new App());
} catch (error) {
  // A bad `-c key=value` is the user's to fix: the message says how, a stack trace would bury it.
  if (!(error instanceof AppContextError)) throw error;
  console.error(error.message);
  process.exit(1);
}
