#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { defineApp } from '../lib/app';

defineApp(new App());
